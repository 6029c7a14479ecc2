import CommandLineSupport
import Foundation
import Logging
import MeshCA
import NIOConcurrencyHelpers
import Testing

/// `--log-format json`: what a log collector receives for each event.
@Suite struct JSONLogHandlerTests {
    /// A logger whose handler hands its lines to `lines`.
    func logger(level: Logger.Level = .info) -> (Logger, NIOLockedValueBox<[String]>) {
        let lines = NIOLockedValueBox<[String]>([])
        var handler = JSONLogHandler(label: "test.logger") { bytes in lines.withLockedValue { $0.append(String(decoding: bytes, as: UTF8.self)) } }
        handler.metadata["pod"] = "app-0"
        handler.logLevel = level
        return (Logger(label: "test.logger", factory: { _ in handler }), lines)
    }

    func object(_ line: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    }

    @Test func oneObjectPerEventWithItsMetadata() throws {
        let (logger, lines) = logger()
        struct Failure: Error, CustomStringConvertible { var description: String { "disk full" } }
        logger.notice("rotated\nthe certificate", error: Failure(), metadata: [
            "serial": "0A1B", "sans": .array(["DNS:a", "DNS:b"]), "limits": .dictionary(["max": .stringConvertible(3)]),
            "msg": "a colliding key",
        ])
        logger.debug("below the level: dropped")
        let written = lines.withLockedValue { $0 }
        try #require(written.count == 1)
        // One line, even for a message with a newline in it: collectors split on newlines.
        #expect(written[0].hasSuffix("\n") && written[0].dropLast().allSatisfy { $0 != "\n" }, "\(written[0])")
        let event = try object(written[0])
        #expect(event["msg"] as? String == "rotated\nthe certificate")
        #expect(event["level"] as? String == "notice")
        #expect(event["logger"] as? String == "test.logger")
        #expect(event["source"] as? String == "ScrapeSidecarTests")
        #expect(event["error"] as? String == "disk full")
        #expect(event["pod"] as? String == "app-0")
        #expect(event["serial"] as? String == "0A1B")
        #expect(event["sans"] as? [String] == ["DNS:a", "DNS:b"])
        #expect((event["limits"] as? [String: Any])?["max"] as? String == "3")
        #expect(event["meta.msg"] as? String == "a colliding key")
        let time = try #require(event["time"] as? String)
        let parsed = try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(time)
        #expect(abs(parsed.timeIntervalSinceNow) < 60 && time.hasSuffix("Z"), "\(time)")
    }

    @Test func formatsParseFromOptionsAndConfigFiles() throws {
        #expect(LogFormat(argument: "json") == .json)
        #expect(LogFormat(argument: "xml") == nil)
        #expect(try LogFormat(configValue: "text", key: "log_format") == .text)
        #expect(throws: MeshCAError.invalidInput("invalid log_format 'JSON': use text or json")) {
            try LogFormat(configValue: "JSON", key: "log_format")
        }
    }
}
