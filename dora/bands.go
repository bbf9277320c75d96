package dora

import "time"

// Band is a DORA performance level: [BandElite], [BandHigh],
// [BandMedium] or [BandLow]; the empty Band means there is nothing to
// rate (no deployment in the period, or no value of the metric).
type Band string

// The DORA performance levels.
const (
	BandElite  Band = "elite"
	BandHigh   Band = "high"
	BandMedium Band = "medium"
	BandLow    Band = "low"
)

// Lengths the band boundaries are given in. A month is 730 hours (a
// twelfth of 365 days), as Four Keys' dashboard counts it.
const (
	Day       = 24 * time.Hour
	Week      = 7 * Day
	Month     = 730 * time.Hour
	SixMonths = 6 * Month
)

// The band boundaries. They come from the software delivery performance
// levels of the 2024 Accelerate State of DevOps Report (DORA, Google
// Cloud, October 2024), whose clusters are described by these values:
//
//	                     elite                 high                   medium                  low
//	deployment frequency on demand (multiple   once per day to once   once per week to once   once per month to once
//	                     deploys per day)      per week               per month               every six months
//	change lead time     less than one day     one day to one week    one week to one month   one month to six months
//	change fail rate     5%                    20%                    10%                     40%
//	failed deployment    less than one hour    less than one day      less than one day       one week to one month
//	recovery time
//
// The report describes clusters rather than cut-offs, and two rows are
// not ordered, so flightdeck turns them into monotone boundaries as
// follows (each boundary belongs to the better band unless said
// otherwise):
//
//   - Deployment frequency, in deployments per day over the period:
//     elite above one a day ("multiple deploys per day"; this boundary
//     belongs to high, whose range starts at "once per day"), high at one
//     a week or more, medium at one a month (730 hours) or more, low
//     below that (and at zero).
//   - Change lead time, the median: elite under a day, high under a
//     week, medium under a month, low from a month on (beyond six months
//     too; the report has no lower level).
//   - Change fail rate: elite up to 5%, high up to 20%, medium under
//     40%, low from 40%. The 2024 medium cluster (10%) fails less often
//     than the high one (20%); the rate alone does not tell them apart,
//     so a rate up to the high cluster's 20% is rated high, and medium is
//     what lies between the high and the low clusters' values.
//   - Failed deployment recovery time, the median: elite under an hour,
//     high under a day, medium under a week, low from a week on. 2024
//     gives high and medium the same "less than one day" and nobody a
//     day to a week; flightdeck rates that gap medium, as the 2023 report
//     did ("between one day and one week").
//   - Deployment rework rate: the 2024 report introduces the metric but
//     publishes no per-cluster value for it; it reads rework rate with
//     change fail rate as one measure of instability. flightdeck rates it
//     with the change fail rate's boundaries.
const (
	FrequencyElitePerDay  = 1.0
	FrequencyHighPerDay   = 1.0 / 7
	FrequencyMediumPerDay = float64(Day) / float64(Month)

	LeadTimeElite  = Day
	LeadTimeHigh   = Week
	LeadTimeMedium = Month

	ChangeFailElite  = 0.05
	ChangeFailHigh   = 0.20
	ChangeFailMedium = 0.40 // exclusive: 40% is low

	RecoveryElite  = time.Hour
	RecoveryHigh   = Day
	RecoveryMedium = Week
)

// FrequencyBand rates a deployment frequency given in deployments per
// day: elite above [FrequencyElitePerDay], high from
// [FrequencyHighPerDay], medium from [FrequencyMediumPerDay].
func FrequencyBand(perDay float64) Band {
	switch {
	case perDay > FrequencyElitePerDay:
		return BandElite
	case perDay >= FrequencyHighPerDay:
		return BandHigh
	case perDay >= FrequencyMediumPerDay:
		return BandMedium
	}
	return BandLow
}

// LeadTimeBand rates a median change lead time.
func LeadTimeBand(median time.Duration) Band {
	switch {
	case median < LeadTimeElite:
		return BandElite
	case median < LeadTimeHigh:
		return BandHigh
	case median < LeadTimeMedium:
		return BandMedium
	}
	return BandLow
}

// ChangeFailRateBand rates a change fail rate, a fraction from 0 to 1.
func ChangeFailRateBand(rate float64) Band {
	switch {
	case rate <= ChangeFailElite:
		return BandElite
	case rate <= ChangeFailHigh:
		return BandHigh
	case rate < ChangeFailMedium:
		return BandMedium
	}
	return BandLow
}

// RecoveryBand rates a median failed deployment recovery time.
func RecoveryBand(median time.Duration) Band {
	switch {
	case median < RecoveryElite:
		return BandElite
	case median < RecoveryHigh:
		return BandHigh
	case median < RecoveryMedium:
		return BandMedium
	}
	return BandLow
}

// ReworkRateBand rates a deployment rework rate, a fraction from 0 to 1,
// with the change fail rate's boundaries (see the note above
// [FrequencyElitePerDay]).
func ReworkRateBand(rate float64) Band { return ChangeFailRateBand(rate) }

// LeadTimeBuckets returns the upper bounds, in seconds, of the buckets of
// the flightdeck_change_lead_time_seconds histogram: the lead time band
// boundaries (a day, a week, a month) and six months, the end of the low
// band's range.
func LeadTimeBuckets() []float64 {
	return []float64{LeadTimeElite.Seconds(), LeadTimeHigh.Seconds(), LeadTimeMedium.Seconds(), SixMonths.Seconds()}
}

// RecoveryBuckets returns the upper bounds, in seconds, of the buckets of
// the flightdeck_failed_deployment_recovery_seconds histogram: the
// recovery band boundaries (an hour, a day, a week) and a month, the end
// of the low band's range.
func RecoveryBuckets() []float64 {
	return []float64{RecoveryElite.Seconds(), RecoveryHigh.Seconds(), RecoveryMedium.Seconds(), Month.Seconds()}
}
