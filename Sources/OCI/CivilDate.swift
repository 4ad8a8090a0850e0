// Days to civil dates: https://howardhinnant.github.io/date_algorithms.html#civil_from_days

/// A day of the proleptic Gregorian calendar.
struct CivilDate {
    var year: Int64
    var month: Int64
    var day: Int64

    /// The day `days` after 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
    init(days: Int64) {
        let z = days + 719_468
        let era = Timestamp.floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }
}
