import Foundation

/// Midtrans' way of writing times, and the small conversions the gateway's clocks need.
enum Timestamp {
    /// Western Indonesia time (UTC+7), the zone Midtrans writes every time in.
    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 7 * 3600)!
        return calendar
    }()

    /// `YYYY-MM-DD HH:MM:SS` in UTC+7. Two such texts compare like the times they name, which
    /// is what the store's expiry and settlement queries rely on.
    static func midtrans(_ date: Date) -> String {
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func millis(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970 * 1000) }
}
