import Foundation
import Testing

/// `--web.config.file` (exporter-toolkit semantics) and `--config` (the sidecar's own YAML).
@Suite struct SidecarConfigTests {
    func webConfig(_ fixture: SidecarFixture, _ body: String) throws {
        try fixture.ws.write("pki/web-config.yml", "tls_server_config:\n  cert_file: issued/web.crt\n  key_file: private/web.key\n" + body)
    }

    @Test func allowedSANsAreCheckedInTheHandshakeAsTheToolkitDoes() throws {
        let fixture = try SidecarFixture()
        try webConfig(fixture, """
              client_auth_type: RequireAndVerifyClientCert
              client_ca_file: ca.crt
              client_allowed_sans: ["prometheus.example.internal"]
              cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
              curve_preferences: [X25519, CurveP256]

            """)
        try fixture.startSidecar([], tls: ["--web.config.file", "pki/web-config.yml"])
        #expect(try fixture.curl(as: "prom").status == 200)
        #expect(try fixture.curl(as: "other").status == 0)
        #expect(try fixture.curl(as: nil).status == 0)
        // TLS 1.2 with the one configured suite works; TLS 1.1 does not.
        let tls12 = try fixture.curl(as: "prom", extra: ["--tls-max", "1.2"])
        #expect(tls12.status == 200)
        #expect(try fixture.curl(as: "prom", extra: ["--tlsv1.1", "--tls-max", "1.1"]).status == 0)
    }

    @Test func verifyClientCertIfGivenLetsAnonymousClientsInButNotStrangers() throws {
        let fixture = try SidecarFixture()
        try webConfig(fixture, "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n")
        try fixture.startSidecar(["--allow-path", "/echo-headers"], tls: ["--web.config.file", "pki/web-config.yml"])
        let anonymous = try fixture.curl("/echo-headers", as: nil)
        #expect(anonymous.status == 200)
        #expect(!anonymous.body.contains("x-forwarded-client-cert"))
        let verified = try fixture.curl("/echo-headers", as: "prom")
        #expect(verified.body.contains("x-forwarded-client-cert: Hash="))
        #expect(try fixture.curl(as: "srv").status == 0, "a presented certificate must still verify (clientAuth)")
    }

    @Test func noClientCertIsTheToolkitDefault() throws {
        let fixture = try SidecarFixture()
        try webConfig(fixture, "")
        try fixture.startSidecar([], tls: ["--web.config.file", "pki/web-config.yml"])
        #expect(try fixture.curl(as: nil).status == 200)
    }

    @Test(arguments: [
        ("  min_version: TLS10\n", "TLS10 is not allowed"),
        ("  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n", "cipher suite 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA' is not allowed"),
        ("  client_auth_type: Sometimes\n", "unknown client_auth_type 'Sometimes'"),
        ("  client_auth_type: RequireAndVerifyClientCert\n", "needs a client CA file"),
        ("  client_cert_file: x\n", "unknown key 'tls_server_config.client_cert_file'"),
        ("  curve_preferences: [P192]\n", "unknown curve 'P192'"),
    ])
    func badWebConfigsExit2(body: String, message: String) throws {
        let fixture = try SidecarFixture()
        try webConfig(fixture, body)
        let result = try Command.run(Workspace.sidecarPath, [
            "serve", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(fixture.upstreamPort)",
            "--web.config.file", "pki/web-config.yml",
        ], directory: fixture.ws.url)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func sidecarOptionsFromAYAMLFile() throws {
        let fixture = try SidecarFixture()
        try fixture.ws.write("sidecar.yml", """
            routes:
              - listen: 127.0.0.1:0
                upstream: http://127.0.0.1:\(fixture.upstreamPort)
            cert: pki/issued/web.crt
            key: pki/private/web.key
            client_ca: pki/ca.crt
            allow_san: [DNS:prometheus.example.internal]
            admin_listen: 127.0.0.1:0
            log_format: json

            """)
        let sidecar = try BackgroundProcess(Workspace.sidecarPath, ["serve", "--config", "sidecar.yml"], in: fixture.ws,
                                            name: "sidecar", ready: { $0.hasPrefix("admin on ") })
        let port = try #require(sidecar.number(after: "listening on https://127.0.0.1:"))
        func status(_ identity: String) throws -> String {
            try Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", "pki/ca.crt",
                                     "--cert", "pki/issued/\(identity).crt", "--key", "pki/private/\(identity).key",
                                     "https://127.0.0.1:\(port)/metrics"], directory: fixture.ws.url).stdout
        }
        #expect(try status("prom") == "200")
        #expect(try status("other") == "403")
        sidecar.stop()
        let events = try JSONLogLines.parse(sidecar.output, skipping: "listening on ", "admin on ")
        let refused = try #require(events.first { $0["msg"] as? String == "refused" }, "\(sidecar.output)")
        #expect(refused["level"] as? String == "info")
        #expect((refused["reason"] as? String)?.contains("DNS:other.example.internal") == true, "\(refused)")
        #expect(refused["listener"] as? String == "127.0.0.1:\(port)")

        let tlsKeys = "cert: pki/issued/web.crt\nkey: pki/private/web.key\nclient_ca: pki/ca.crt\n"
        try fixture.ws.write("bad.yml", "listen: 127.0.0.1:0\nupstreams: http://x\n")
        let bad = try Command.run(Workspace.sidecarPath, ["serve", "--config", "bad.yml"], directory: fixture.ws.url)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("unknown key 'upstreams'"))
        try fixture.ws.write("xml.yml", "listen: 127.0.0.1:0\nupstream: http://127.0.0.1:1\nlog_format: xml\n")
        let xml = try Command.run(Workspace.sidecarPath, ["serve", "--config", "xml.yml"], directory: fixture.ws.url)
        #expect(xml.status == 2)
        #expect(xml.stderr == "scrape-sidecar: error: invalid log_format 'xml': use text or json\n", "\(xml.stderr)")
        // An unknown level is named by where it came from: the file's key here, the option when both are given.
        try fixture.ws.write("loud.yml", "listen: 127.0.0.1:0\nupstream: http://127.0.0.1:1\nlog_level: loud\n")
        let loud = try Command.run(Workspace.sidecarPath, ["serve", "--config", "loud.yml"], directory: fixture.ws.url)
        #expect(loud.status == 2)
        #expect(loud.stderr.hasPrefix("scrape-sidecar: error: invalid log_level 'loud': use trace, debug"), "\(loud.stderr)")
        let option = try Command.run(Workspace.sidecarPath, ["serve", "--config", "loud.yml", "--log-level", "shout"], directory: fixture.ws.url)
        #expect(option.status == 2)
        #expect(option.stderr.hasPrefix("scrape-sidecar: error: invalid --log-level 'shout'"), "\(option.stderr)")
        // The same for a duration: `1:30` is a string (yaml.v2 has no base-60 numbers), refused by the key's name.
        try fixture.ws.write("slow.yml", "listen: 127.0.0.1:0\nupstream: http://127.0.0.1:1\nread_timeout: 1:30\n" + tlsKeys)
        let slow = try Command.run(Workspace.sidecarPath, ["serve", "--config", "slow.yml"], directory: fixture.ws.url)
        #expect(slow.status == 2 && slow.stderr.hasPrefix("scrape-sidecar: error: invalid read_timeout '1:30': use a positive number"),
                "\(slow.stderr)")
        let flag = try Command.run(Workspace.sidecarPath, ["serve", "--config", "slow.yml", "--read-timeout", "soon"], directory: fixture.ws.url)
        #expect(flag.stderr.hasPrefix("scrape-sidecar: error: invalid --read-timeout 'soon'"), "\(flag.stderr)")
    }
}

extension SidecarConfigTests {
    /// An app with two metrics ports: one sidecar process, two listeners, each proxying to its own upstream.
    @Test func repeatedRoutesServeSeveralPortsFromOneProcess() throws {
        let fixture = try SidecarFixture()
        try fixture.ws.write("second.txt", "second_app_metric 2\n")
        let second = try BackgroundProcess(
            "python3", ["-u", SidecarFixture.upstreamScript, "--metrics", fixture.ws.path("second.txt")],
            in: fixture.ws, name: "upstream2", ready: { $0.hasPrefix("listening on ") })
        let secondPort = try #require(second.number(after: "listening on "))
        let sidecar = try BackgroundProcess(
            Workspace.sidecarPath,
            ["serve", "--route", "127.0.0.1:0=http://127.0.0.1:\(fixture.upstreamPort)",
             "--route", "127.0.0.1:0=http://127.0.0.1:\(secondPort)", "--admin-listen", "127.0.0.1:0"] + SidecarFixture.tlsFiles,
            in: fixture.ws, name: "sidecar", ready: { $0.hasPrefix("admin on ") })
        let ports = sidecar.output.split(separator: "\n").filter { $0.hasPrefix("listening on https://127.0.0.1:") }
            .compactMap { Int($0.dropFirst("listening on https://127.0.0.1:".count).prefix { $0.isNumber }) }
        #expect(ports.count == 2)
        func body(_ port: Int) throws -> String {
            try Command.run("curl", ["-sS", "--cacert", "pki/ca.crt", "--cert", "pki/issued/prom.crt", "--key", "pki/private/prom.key",
                                     "https://127.0.0.1:\(port)/metrics"], directory: fixture.ws.url).stdout
        }
        #expect(try body(ports[0]) == (try fixture.ws.read("metrics.txt")))
        #expect(try body(ports[1]) == "second_app_metric 2\n")
    }
}
