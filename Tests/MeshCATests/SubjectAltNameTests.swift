import Testing
@testable import MeshCA

@Suite struct SubjectAltNameTests {
    @Test(arguments: [
        ("DNS:web.example.internal", "DNS:web.example.internal"),
        ("dns:Web.Example.Internal", "DNS:web.example.internal"),
        ("web.example.internal", "DNS:web.example.internal"),
        ("localhost", "DNS:localhost"),
        ("*.apps.example.internal", "DNS:*.apps.example.internal"),
        ("xn--bcher-kva.example", "DNS:xn--bcher-kva.example"),
        ("10.0.0.7", "IP:10.0.0.7"),
        ("IP:10.0.0.7", "IP:10.0.0.7"),
        ("::1", "IP:::1"),
        ("IP:fd00::7", "IP:fd00::7"),
        ("spiffe://cluster.local/ns/a/sa/b", "URI:spiffe://cluster.local/ns/a/sa/b"),
        ("URI:https://example.internal/x?y=1", "URI:https://example.internal/x?y=1"),
        ("ops@example.internal", "email:ops@example.internal"),
        ("email:ops@example.internal", "email:ops@example.internal"),
        ("  DNS:web.example.internal\t", "DNS:web.example.internal"),
        ("\u{00A0}10.0.0.7 \n", "IP:10.0.0.7"),
    ])
    func parsesAndTypes(spec: String, expected: String) throws {
        #expect(try SubjectAltName(parsing: spec).description == expected)
    }

    @Test(arguments: [
        "", "DNS:", "IP:", "IP:999.1.1.1", "IP:1.2.3", "DNS:bad..name", "DNS:-x.example", "DNS:x-.example",
        "DNS:.example", "DNS:example.", "DNS:under_score.example", "DNS:*.example", "DNS:*.*.example.com",
        "DNS:a*.example.com", "DNS:bücher.example", "DNS:10.0.0.7", "DNS:1.2.3.999",
        "DNS:" + String(repeating: "a", count: 64) + ".example", "DNS:" + String(repeating: "abcdefghi.", count: 26) + "com",
        "URI:not a uri", "URI:noscheme", "URI:1http://x", "URI:mailto:x@example.com", "URI:http://exa\u{0}mple",
        "email:nobody", "email:@example.com", "email:a@b@example.com", "email:a@-bad.example", "FOO:bar",
        "DNS:nul\u{0}byte.example", " ", "\t\n", "DNS: web.example.internal", "DNS:web .example.internal",
    ])
    func refuses(spec: String) {
        #expect(throws: MeshCAError.self) { try SubjectAltName(parsing: spec) }
    }

    @Test func ipAddressRoundTrip() throws {
        let address = try #require(IPAddress("2001:db8::1"))
        #expect(address.bytes.count == 16)
        #expect(address.description == "2001:db8::1")
        #expect(IPAddress("192.168.1.1")?.bytes == [192, 168, 1, 1])
        #expect(IPAddress("192.168.1") == nil)
    }
}

@Suite struct ValidityPeriodTests {
    @Test(arguments: [("90d", 90 * 86_400.0), ("10y", 10 * 31_536_000.0), ("24h", 86_400.0), ("2w", 1_209_600.0), ("30m", 1_800.0)])
    func parses(text: String, seconds: Double) throws {
        #expect(try ValidityPeriod(parsing: text).seconds == seconds)
    }

    @Test(arguments: ["", "10", "d", "0d", "-5d", "5x", "1.5d", "101y", "99999999999999999999d"])
    func refuses(text: String) {
        #expect(throws: MeshCAError.self) { try ValidityPeriod(parsing: text) }
    }

    /// A grace period (`certtool serve --renew-expired-within`) may be zero, in any unit; never negative.
    @Test func zeroOnlyWhereAllowed() throws {
        for text in ["0", "0s", "0h", "0d"] { #expect(try ValidityPeriod(parsing: text, allowingZero: true).seconds == 0) }
        #expect(try ValidityPeriod(parsing: "2h", allowingZero: true).seconds == 7_200)
        for text in ["-1h", "", "0x"] { #expect(throws: MeshCAError.self) { try ValidityPeriod(parsing: text, allowingZero: true) } }
        #expect(throws: MeshCAError.self) { try ValidityPeriod(parsing: "0", allowingZero: false) }
    }
}
