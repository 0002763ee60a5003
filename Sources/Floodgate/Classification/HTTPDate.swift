/// Parses the HTTP date formats of RFC 9110 §5.6.7 (IMF-fixdate, and the obsolete RFC 850 and asctime forms) into
/// seconds since 1970, as `Retry-After` may carry them.
enum HTTPDate {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Seconds since the Unix epoch, or nil when `text` is no HTTP date.
    static func secondsSince1970(_ text: String) -> Int64? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        switch parts.count {
        case 6 where parts[5] == "GMT":
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            guard let day = Int(parts[1]), let month = month(parts[2]), let year = Int(parts[3]) else { return nil }
            return assemble(year: year, month: month, day: day, time: parts[4])
        case 4 where parts[3] == "GMT":
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let date = parts[1].split(separator: "-")
            guard date.count == 3, let day = Int(date[0]), let month = month(date[1]), let short = Int(date[2]) else {
                return nil
            }
            let year = short < 70 ? 2000 + short : (short < 100 ? 1900 + short : short)
            return assemble(year: year, month: month, day: day, time: parts[2])
        case 5:
            // asctime: Sun Nov  6 08:49:37 1994
            guard let month = month(parts[1]), let day = Int(parts[2]), let year = Int(parts[4]) else { return nil }
            return assemble(year: year, month: month, day: day, time: parts[3])
        default:
            return nil
        }
    }

    private static func month(_ name: Substring) -> Int? {
        months.firstIndex(of: String(name)).map { $0 + 1 }
    }

    private static func assemble(year: Int, month: Int, day: Int, time: Substring) -> Int64? {
        let clock = time.split(separator: ":")
        guard clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
            (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second),
            (1970...9999).contains(year)
        else { return nil }
        return Int64(daysSince1970(year: year, month: month, day: day)) * 86_400
            + Int64(hour * 3_600 + minute * 60 + second)
    }

    /// Days from 1970-01-01 to the given civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
    private static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
