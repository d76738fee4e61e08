package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/remotesensing/internal/sensing"
)

// decodeBatch reads a JSON array of readings, decoding each element strictly so that every
// field at fault is named with its place in the batch ("[3].co_pct").
func decodeBatch(c *gin.Context) ([]sensing.ReadingInput, error) {
	var raws []json.RawMessage
	if err := request.DecodeJSON(c, &raws); err != nil {
		var ve *apperr.ValidationError
		if errors.As(err, &ve) && len(ve.Fields) == 1 && ve.Fields[0].Field == "body" && strings.Contains(ve.Fields[0].Message, "must be") {
			return nil, apperr.Invalid("body", "send a JSON array of readings")
		}
		return nil, err
	}
	out := make([]sensing.ReadingInput, len(raws))
	var all apperr.ValidationError
	for i, raw := range raws {
		var b readingBody
		if err := request.Decode(bytes.NewReader(raw), &b); err != nil {
			var ve *apperr.ValidationError
			if !errors.As(err, &ve) {
				return nil, err
			}
			for _, f := range ve.Fields {
				field := fmt.Sprintf("[%d]", i)
				if f.Field != "body" {
					field += "." + f.Field
				}
				all.Add(field, f.Message)
			}
			continue
		}
		out[i] = sensing.ReadingInput{ReadingID: b.ReadingID, StationID: b.StationID, Plate: b.Plate, PlateColour: b.PlateColour,
			MeasuredAt: b.MeasuredAt, CO: b.CO, HC: b.HC, NO: b.NO, Opacity: b.Opacity, Ringelmann: b.Ringelmann, SpeedKmh: b.SpeedKmh,
			AccelMS2: b.AccelMS2, WindMS: b.WindMS, TemperatureC: b.TemperatureC, HumidityPct: b.HumidityPct, Rain: b.Rain, Fog: b.Fog,
			Lane: b.Lane, Photos: b.Photos}
	}
	return out, all.Err()
}

func (h *Handler) upload(c *gin.Context) error {
	ins, err := decodeBatch(c)
	if err != nil {
		return err
	}
	res, err := h.svc.Upload(c.Request.Context(), auth.Caller(c), ins)
	if err != nil {
		return err
	}
	items := make([]uploadItemJSON, len(res.Items))
	for i, it := range res.Items {
		j := uploadItemJSON{ReadingID: it.ReadingID, StationID: it.StationID, Status: string(it.Status)}
		if it.Status == sensing.Conflict {
			j.Detail = "another reading with this station_id and reading_id and different content is stored; it is kept and this one refused"
		} else {
			j.Verdict, j.TableVersion = string(it.Reading.Verdict), it.Reading.Judgement.Version
			j.Exceedances, j.Reasons = it.Reading.Judgement.Exceedances(), it.Reading.Judgement.Reasons
		}
		items[i] = j
	}
	c.JSON(http.StatusOK, gin.H{"created": res.Created, "duplicates": res.Duplicates, "conflicts": res.Conflicts, "items": items})
	return nil
}

func (h *Handler) listReadings(c *gin.Context) error {
	from, _, err := request.QueryTime(c, "from")
	if err != nil {
		return err
	}
	to, _, err := request.QueryTime(c, "to")
	if err != nil {
		return err
	}
	f := sensing.ReadingFilter{Plate: c.Query("plate"), StationID: c.Query("station_id"), Verdict: sensing.Verdict(c.Query("verdict")), From: from, To: to}
	caller, colour := auth.Caller(c), c.Query("colour")
	return listed(c, "remote-sensing-readings", func(ctx context.Context, after *sensing.Cursor, limit int) ([]sensing.Reading, *sensing.Cursor, error) {
		return h.svc.ListReadings(ctx, caller, f, colour, after, limit)
	}, readingOut)
}
