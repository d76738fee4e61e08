// Package emission holds one domain fact every service compares by: the order of China's
// emission standards, 国一 (China I) to 国六b (China VIb). The registry screens vehicles by it,
// the muck permit rules and the checkpoint's heavy-pollution restrictions compare a vehicle's
// standard with a minimum or a maximum, and the fuel service compares a declared fuel stage
// (国六A, 国六B) with the stage a limit row applies below.
package emission

// Rank orders China emission standards by strictness: I ranks 1, II 2, III 3, IV 4, V 5, VI and
// VIa 6 (VI without a letter is read as VIa), VIb 7. The letter of a China VI sub-stage may be
// written in either case ("VIA", "VIB", as the fuel standards print them). Anything else ranks
// 0, so that a caller can refuse a value it does not know.
func Rank(s string) int {
	switch s {
	case "I":
		return 1
	case "II":
		return 2
	case "III":
		return 3
	case "IV":
		return 4
	case "V":
		return 5
	case "VI", "VIa", "VIA":
		return 6
	case "VIb", "VIB":
		return 7
	}
	return 0
}
