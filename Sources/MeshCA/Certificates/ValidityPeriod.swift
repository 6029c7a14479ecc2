import MeshPlatform

/// A certificate lifetime such as `90d`, `10y`, `24h`, `2w`, `30m` or `90s`.
public struct ValidityPeriod: Hashable, Sendable, CustomStringConvertible {
    public let seconds: TimeInterval

    public init(seconds: TimeInterval) { self.seconds = seconds }

    /// Parses `<positive integer><unit>` with unit `s`, `m` (minutes), `h`, `d`, `w` or `y` (365 days).
    /// `allowingZero` also takes `0` with or without a unit (a grace period that may be off); `option` names the
    /// setting in the error ("invalid --ttl '…'").
    public init(parsing text: String, allowingZero: Bool = false, option: String = "validity") throws {
        if allowingZero, text == "0" {
            self.seconds = 0
            return
        }
        let fail = MeshCAError.invalidInput(
            "invalid \(option) '\(text)': use a \(allowingZero ? "whole" : "positive") number with a unit s, m, h, d, w or y (e.g. 90d, 10y, 24h)")
        guard let unit = text.last, let multiplier = Self.unitSeconds(unit),
            let count = Int(text.dropLast()), count > 0 || (allowingZero && count == 0), count <= 100 * 365 * 24 * 60
        else { throw fail }
        let seconds = TimeInterval(count) * multiplier
        guard seconds <= 100 * 31_536_000 else { throw fail }
        self.seconds = seconds
    }

    private static func unitSeconds(_ unit: Character) -> TimeInterval? {
        switch unit {
        case "s": return 1
        case "m": return 60
        case "h": return 3600
        case "d": return 86_400
        case "w": return 604_800
        case "y": return 31_536_000
        default: return nil
        }
    }

    public var description: String {
        if seconds.truncatingRemainder(dividingBy: 86_400) == 0 { return "\(Int(seconds / 86_400))d" }
        if seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        return "\(Int(seconds))s"
    }
}
