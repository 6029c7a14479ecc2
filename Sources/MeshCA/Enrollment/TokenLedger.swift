import MeshPlatform

/// One-time enrollment tokens already redeemed, as the store keeps them ("ID EXPIRY" per line). Tokens past
/// their expiry are dropped when the ledger is written: they cannot verify any more, so it stays small.
public struct TokenLedger: Sendable, Equatable {
    private var expiries: [String: Int]

    public init(parsing text: String = "") {
        var expiries: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let expiry = Int(fields[1]) else { continue }
            expiries[String(fields[0])] = expiry
        }
        self.expiries = expiries
    }

    public func isUsed(_ id: String) -> Bool { expiries[id] != nil }

    /// Marks `id` used; false when it already was.
    public mutating func consume(_ id: String, expiresAt: Date) -> Bool {
        guard expiries[id] == nil else { return false }
        expiries[id] = Int(expiresAt.timeIntervalSince1970.rounded(.up))
        return true
    }

    public func serialized(now: Date) -> String {
        let cutoff = Int(now.timeIntervalSince1970)
        return expiries.filter { $0.value > cutoff }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
    }
}
