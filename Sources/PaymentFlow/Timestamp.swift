import Foundation

/// Midtrans' way of writing times, and the small conversions the gateway's clocks need.
enum Timestamp {
    /// Western Indonesia time (UTC+7), the zone Midtrans writes every time in.
    /// The Gregorian calendar in UTC+7 (Western Indonesia Time), Midtrans' clock.
    static let calendar: Calendar = {
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

    static func millis(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// `YYYY-MM-DD HH:MM:SS +0700` (a merchant's `order_time`, any offset) as a date; nil if it
    /// is not one.
    static func parseMidtrans(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 3 else { return nil }
        let day = parts[0].split(separator: "-").compactMap { Int($0) }, time = parts[1].split(separator: ":").compactMap { Int($0) }
        let zone = parts[2]
        guard day.count == 3, time.count == 3, zone.count == 5, let sign = zone.first, sign == "+" || sign == "-",
            let hours = Int(zone.dropFirst().prefix(2)), let minutes = Int(zone.suffix(2))
        else { return nil }
        // Years a payment can name (and far from where milliseconds since 1970 overflow).
        guard (1970...2199).contains(day[0]) else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (day[0], day[1], day[2])
        (components.hour, components.minute, components.second) = (time[0], time[1], time[2])
        var calendar = Calendar(identifier: .gregorian)
        guard let offset = TimeZone(secondsFromGMT: (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)) else { return nil }
        calendar.timeZone = offset
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }
}
