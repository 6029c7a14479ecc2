import MeshPlatform

/// One-time enrollment tokens already redeemed, as the store keeps them ("ID EXPIRY" per line).
///
/// The file only grows by appended lines, so that a batch writes the tokens it redeemed and nothing else,
/// however long the ledger. It is rewritten without the expired tokens (which cannot verify any more) once it
/// has doubled since it was last rewritten: an amortized constant cost per token.
public struct TokenLedger: Sendable {
    private var expiries: [String: Int]
    /// Lines of tokens redeemed since the ledger was read or saved.
    private var unsaved = ""
    /// The file's length when this ledger was read or saved; nil when it cannot simply be appended to.
    private var persistedLength: Int?
    /// Lines in the file, and lines in it when it was last rewritten (as far as this process knows).
    private var persistedLines = 0
    private var linesAtRewrite = 0

    public init(parsing text: String = "") {
        var expiries: [String: Int] = [:]
        var lines = 0
        // A last line without its newline is an append that never finished: its batch did not commit.
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            lines += 1
            let fields = line.split(separator: " ")
            guard fields.count == 2, let expiry = Int(fields[1]) else { continue }
            expiries[String(fields[0])] = expiry
        }
        self.expiries = expiries
        persistedLines = lines
        linesAtRewrite = lines
        persistedLength = text.isEmpty || text.utf8.last == UInt8(ascii: "\n") ? text.utf8.count : nil
    }

    public func isUsed(_ id: String) -> Bool { expiries[id] != nil }

    /// Marks `id` used; false when it already was.
    public mutating func consume(_ id: String, expiresAt: Date) -> Bool {
        guard expiries[id] == nil else { return false }
        let expiry = Int(expiresAt.timeIntervalSince1970.rounded(.up))
        expiries[id] = expiry
        unsaved += "\(id) \(expiry)\n"
        return true
    }

    /// How to bring the ledger's file up to date.
    public enum Change: Equatable {
        case none
        /// Append these lines.
        case append(String)
        /// Replace the file with this text (no expired tokens).
        case rewrite(String)

        /// The lines to append, if this is an append.
        public var appended: String? {
            if case .append(let lines) = self { return lines }
            return nil
        }

        /// The file's new text, if this is a rewrite.
        public var rewritten: String? {
            if case .rewrite(let text) = self { return text }
            return nil
        }
    }

    /// Appends when the file (`fileSize` bytes, negative when there is none) is the one this ledger was read
    /// from or saved to and has not doubled since it was last rewritten; otherwise the whole ledger without
    /// its expired tokens.
    public mutating func change(fileSize: Int64, now: Date) -> Change {
        if let persistedLength, fileSize >= 0, Int64(persistedLength) == fileSize,
            persistedLines + Self.lineCount(unsaved) <= 2 * linesAtRewrite + 1024
        {
            return unsaved.isEmpty ? .none : .append(unsaved)
        }
        let cutoff = Int(now.timeIntervalSince1970)
        expiries = expiries.filter { $0.value > cutoff }
        return .rewrite(expiries.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined())
    }

    /// Records that the file now holds what `change` returned.
    public mutating func saved(_ change: Change) {
        switch change {
        case .none:
            return
        case .append(let lines):
            persistedLength! += lines.utf8.count
            persistedLines += Self.lineCount(lines)
        case .rewrite(let text):
            persistedLength = text.utf8.count
            persistedLines = expiries.count
            linesAtRewrite = persistedLines
        }
        unsaved = ""
    }

    private static func lineCount(_ text: String) -> Int {
        text.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }
}
