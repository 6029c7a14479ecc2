import MeshTLS
import Testing

@Suite struct URLAuthorityTests {
    @Test(arguments: [
        ("127.0.0.1", 9443, "127.0.0.1:9443"),
        ("::1", 9443, "[::1]:9443"),
        ("::", 0, "[::]:0"),
        ("web.example.internal", 443, "web.example.internal:443"),
    ])
    func ipv6LiteralsAreBracketed(host: String, port: Int, expected: String) {
        #expect(urlAuthority(host: host, port: port) == expected)
    }
}
