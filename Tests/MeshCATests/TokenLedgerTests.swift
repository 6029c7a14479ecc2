import Foundation
@testable import MeshCA
import Testing

/// tokens.used grows by appends; it is rewritten (without expired tokens) only when it is not the file the
/// ledger knows or has doubled since it was last rewritten.
@Suite struct TokenLedgerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var later: Date { now + 600 }

    @Test func redeemedTokensAreAppendedToTheFileTheLedgerWasReadFrom() {
        let text = "a 1800000600\n"
        var ledger = TokenLedger(parsing: text)
        #expect(ledger.isUsed("a"))
        let unchanged = ledger.change(fileSize: Int64(text.utf8.count), now: now)
        #expect(unchanged == .none)
        let first = ledger.consume("b", expiresAt: later)
        let again = ledger.consume("b", expiresAt: later)
        #expect(first && !again)
        let append = ledger.change(fileSize: Int64(text.utf8.count), now: now)
        #expect(append == .append("b 1800000600\n"))
        ledger.saved(append)
        _ = ledger.consume("c", expiresAt: later)
        // The file the first append made: only the newer line is appended.
        let next = ledger.change(fileSize: Int64((text + "b 1800000600\n").utf8.count), now: now)
        #expect(next == .append("c 1800000600\n"))
    }

    @Test func aFileChangedByAnotherProcessOrMissingIsRewrittenWithoutExpiredTokens() {
        var ledger = TokenLedger(parsing: "old 1700000000\nlive 1800000600\n")
        _ = ledger.consume("new", expiresAt: later)
        let rewrite = ledger.change(fileSize: 5, now: now)
        #expect(rewrite == .rewrite("live 1800000600\nnew 1800000600\n"))
        #expect(!ledger.isUsed("old"), "expired tokens cannot verify, so the ledger forgets them")
        var empty = TokenLedger()
        _ = empty.consume("x", expiresAt: later)
        let created = empty.change(fileSize: -1, now: now)
        #expect(created == .rewrite("x 1800000600\n"))
    }

    /// An append that never finished (no newline) is not a redeemed token, and the file is not appended to
    /// after it, which would run two lines together.
    @Test func aTornLastLineIsNotARedeemedTokenAndIsRewritten() {
        let text = "a 1800000600\nb 18000"
        var ledger = TokenLedger(parsing: text)
        #expect(ledger.isUsed("a"))
        #expect(!ledger.isUsed("b"))
        _ = ledger.consume("c", expiresAt: later)
        let change = ledger.change(fileSize: Int64(text.utf8.count), now: now)
        #expect(change == .rewrite("a 1800000600\nc 1800000600\n"))
    }

    /// Appends until the file has doubled (plus 1,024 lines) since it was last rewritten: then one rewrite drops
    /// the expired tokens, so the cost per token stays constant.
    @Test func theFileIsRewrittenOnceItHasDoubled() {
        let expired = (0..<2_000).map { "expired-\($0) 1700000000\n" }.joined()
        var ledger = TokenLedger(parsing: expired)
        var size = Int64(expired.utf8.count)
        var appends = 0
        for n in 0..<6_000 {
            _ = ledger.consume("t\(n)", expiresAt: later)
            let change = ledger.change(fileSize: size, now: now)
            switch change {
            case .append(let lines):
                appends += 1
                size += Int64(lines.utf8.count)
            case .rewrite(let text):
                #expect(appends == 2_000 + 1_024, "appended until the file had doubled")
                #expect(!text.contains("expired-"))
                #expect(text.split(separator: "\n").count == n + 1)
                return
            case .none:
                Issue.record("a consumed token must be written")
            }
            ledger.saved(change)
        }
        Issue.record("never rewritten")
    }
}
