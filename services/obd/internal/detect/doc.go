// Package detect turns one heavy diesel truck's stream of OBD telemetry
// samples into alarms.
//
// Samples come from on-board terminals (GB 17691-2018 annex Q / HJ 1239
// real-time report 0x02 and reissued report 0x03, ten 1 Hz samples per frame)
// or from fleet platforms posting the same samples as JSON. The wire codec
// lives elsewhere; this package holds only the rules. It does no I/O, starts
// no goroutines and never reads the clock: every instant comes from a sample
// (Sample.At, Sample.ReceivedAt) or from the explicit now of Truck.Sweep and
// Truck.Summary, so the same input always gives the same output.
//
// # Model
//
// A Truck holds the state of one vehicle: open alarms, a bounded 300 s window
// of loaded samples, the last values and position, the counters of the
// tamper rules and the exemption clock. Truck.Observe feeds one Sample and
// returns the Changes it caused (alarm opened, updated or closed, exemption
// gained or revoked); Truck.Sweep runs the time-driven rules (terminal offline
// while moving, unexplained data gaps) and is called periodically by the
// service; Truck.ObserveRemoval feeds the anti-tamper / removal alarm (command
// 0x06); Truck.Close lets the bureau close an alarm by hand. At most one alarm
// of each Kind is open at a time. A Truck is plain data with JSON tags: the
// service persists it with encoding/json and restores it after a restart.
// A Truck is not safe for concurrent use; the service serialises the calls
// for one VIN.
//
// # Order, late and duplicate samples
//
// Samples are expected in collection-time order. A sample whose At equals the
// newest At already seen is a duplicate and is ignored entirely. A sample
// older than the newest one (a reissued frame filling a gap, or a frame
// delivered twice) is "late":
//
//   - it is counted at most once: the truck remembers which collection
//     seconds it has seen over the last 512 s (a 64-byte bitmap), so a late
//     sample in a second already seen is a duplicate and ignored; the rules
//     therefore resolve time to the second, as the wire format does;
//   - if it falls inside the current NOx window (and the 512 s span; with a
//     window longer than that, older late samples are left out) it is
//     inserted, in time order, into that window, so the next in-order sample
//     judges the window with it; late samples never open or close an alarm
//     themselves, except that any arrival closes the offline alarm;
//   - if it falls inside a pending data gap it fills that gap (see
//     KindDataGap); reissued samples are consumed in time order there, so
//     a reissue delivered twice cannot fill a gap twice;
//   - otherwise it is ignored by the rules (Stats.Stale); the service still
//     stores it.
//
// The sequence rules (reagent, MIL, fault codes, flat-line, plausibility,
// position jump, data gap detection) look only at in-order samples.
//
// # Memory
//
// The window keeps 16 bytes per loaded sample and at most WindowSeconds+1
// entries (4.8 KiB for the default 300 s), allocated on the first loaded
// sample; the Truck itself is under 1 KiB, so one truck costs about 6 KiB
// and 10 000 trucks about 60 MiB. Observe allocates nothing unless an
// alarm changes.
package detect
