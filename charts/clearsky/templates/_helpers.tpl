{{/*
The chart's fullname prefix: the release name, trimmed so "<prefix>-<service>-gateway" stays
within Kubernetes' 63-character names.
*/}}
{{- define "clearsky.prefix" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of service .name's objects. */}}
{{- define "clearsky.name" -}}
{{- printf "%s-%s" (include "clearsky.prefix" .root) .name | trunc 55 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "clearsky.labels" -}}
app.kubernetes.io/name: clearsky
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: clearsky
app.kubernetes.io/version: {{ (.Values.image.tag | default .Chart.AppVersion) | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector of this release's pods (every service). */}}
{{- define "clearsky.releaseSelector" -}}
app.kubernetes.io/name: clearsky
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector of service .name's pods. */}}
{{- define "clearsky.selector" -}}
{{ include "clearsky.releaseSelector" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/*
The settings of service .name: serviceDefaults overlaid key by key with services.<name>
(a false or empty value in services.<name> wins, unlike sprig's merge), as YAML.
*/}}
{{- define "clearsky.service" -}}
{{- $out := deepCopy .root.Values.serviceDefaults -}}
{{- include "clearsky.overlay" (dict "dst" $out "src" (index .root.Values.services .name)) -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Sets every key of .src into .dst, recursing into maps present in both. Prints nothing. */}}
{{- define "clearsky.overlay" -}}
{{- $dst := .dst -}}
{{- range $k, $v := .src -}}
{{- if and (kindIs "map" $v) (kindIs "map" (index $dst $k)) -}}
{{- include "clearsky.overlay" (dict "dst" (index $dst $k) "src" $v) -}}
{{- else -}}
{{- $_ := set $dst $k $v -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The names of the enabled services, sorted, as a YAML list. */}}
{{- define "clearsky.enabled" -}}
{{- $names := list -}}
{{- range $name, $s := .Values.services -}}
{{- if $s.enabled -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- toYaml (sortAlpha $names) -}}
{{- end -}}

{{/* Image of service .name. */}}
{{- define "clearsky.image" -}}
{{- printf "%s/%s:%s" (.root.Values.image.registry | trimSuffix "/") .name (.root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{/* Name of the Secret with MONGODB_URI, REDIS_URL and CLEARSKY_JWT_SECRET. */}}
{{- define "clearsky.secretName" -}}
{{- required "secret.name must name the Secret holding MONGODB_URI, REDIS_URL and CLEARSKY_JWT_SECRET" .Values.secret.name -}}
{{- end -}}

{{/* The registry's base URL. */}}
{{- define "clearsky.registryUrl" -}}
{{- if .Values.config.registryUrl -}}
{{- .Values.config.registryUrl -}}
{{- else -}}
{{- printf "http://%s:8080" (include "clearsky.name" (dict "root" . "name" "registry")) -}}
{{- end -}}
{{- end -}}
