import MeshCA
import SidecarConfig
import Testing

/// `--config` files: values as written, and one message naming the file and the key for each mistake.
@Suite struct SidecarConfigFileTests {
    @Test func scalarsAreTakenAsWrittenAndListsJoinRoutes() throws {
        let file = try SidecarConfigFile.parse("""
            routes:
              - {listen: 127.0.0.1:9443, upstream: http://127.0.0.1:9100}
            read_timeout: 10
            allow_san: [DNS:prom.example, 0x10]
            crl: ~
            """, path: "s.yml")
        #expect(file.routes?.map(\.listen) == ["127.0.0.1:9443"] && file.routes?.map(\.upstream) == ["http://127.0.0.1:9100"])
        #expect(file.readTimeout == "10")
        #expect(file.allowSAN == ["DNS:prom.example", "0x10"])
        #expect(file.crl == nil)
        #expect(try SidecarConfigFile.parse("", path: "s.yml").routes == nil)
    }

    @Test(arguments: [
        ("routes: {listen: a}\n", "s.yml: 'routes' has the wrong type"),
        ("routes:\n  - listen: a\n", "s.yml: routes[0] needs listen and upstream"),
        ("routes:\n  - {listen: a, upstream: b, port: 1}\n", "s.yml: unknown key 'routes[0].port'"),
        ("routes:\n  - {listen: [a], upstream: b}\n", "s.yml: 'routes[0].listen' has the wrong type"),
        ("allow_san: DNS:a\n", "s.yml: 'allow_san' has the wrong type"),
        ("cert: {file: a}\n", "s.yml: 'cert' has the wrong type"),
        ("- cert\n", "s.yml is not a valid sidecar config: expected a mapping of options"),
        ("cert: a\ncert: b\n", "s.yml is not a valid sidecar config: line 2, column 1: key 'cert' appears twice in one mapping"),
    ])
    func mistakesAreNamed(text: String, message: String) throws {
        let error = #expect(throws: MeshCAError.self) { try SidecarConfigFile.parse(text, path: "s.yml") }
        #expect(error?.description == message, "\(String(describing: error))")
    }
}
