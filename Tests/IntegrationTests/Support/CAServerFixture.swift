import Foundation

/// `certtool serve` on 127.0.0.1 over a fresh pki, and curl/openssl helpers to talk EST to it.
final class CAServerFixture {
    let ws: Workspace
    private(set) var server: BackgroundProcess?
    private(set) var port = 0
    let arguments: [String]
    /// A command the server runs under (`faketime -f +3m`), or empty.
    let wrapper: [String]

    /// Creates the CA (with `initArguments`) and starts the server with `arguments`.
    init(_ arguments: [String] = [], initArguments: [String] = [], ws: Workspace? = nil, skipInit: Bool = false,
         wrapper: [String] = []) throws {
        self.ws = try ws ?? Workspace()
        self.arguments = arguments
        self.wrapper = wrapper
        if !skipInit { try self.ws.ok(["init"] + initArguments) }
        try start()
    }

    /// (Re)starts the server, on the same port when it ran before.
    func start() throws {
        let listen = "127.0.0.1:\(port)"
        let command = wrapper + [Workspace.certtoolPath, "serve", "--pki", ws.pki, "--listen", listen] + arguments
        let server = try BackgroundProcess(
            command[0], Array(command.dropFirst()), in: ws, name: "ca", ready: { $0.hasPrefix("listening on https://") })
        port = server.number(after: "listening on https://127.0.0.1:")!
        self.server = server
    }

    func stop() { server?.stop() }

    var url: String { "https://127.0.0.1:\(port)" }

    /// A one-time token from `certtool token`.
    func token(_ arguments: [String]) throws -> String {
        try ws.ok(["token"] + arguments).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A new P-256 key `NAME.key` and its CSR as base64 DER in `NAME.b64`, made by openssl as DESIGN.md shows.
    func makeCSR(_ name: String, subject: String = "/CN=app.example.internal", sans: String? = "DNS:app.example.internal",
                 extensions: [String] = []) throws {
        var arguments = ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                         "-keyout", "\(name).key", "-subj", subject, "-outform", "DER", "-out", "\(name).der"]
        if let sans { arguments += ["-addext", "subjectAltName=\(sans)"] }
        for item in extensions { arguments += ["-addext", item] }
        let result = try ws.openssl(arguments)
        guard result.status == 0 else { throw TestFailure("openssl req failed: \(result.output)") }
        let der = try Data(contentsOf: URL(fileURLWithPath: ws.path("\(name).der")))
        try ws.write("\(name).b64", der.base64EncodedString())
    }

    /// POSTs `NAME.b64` to an EST endpoint with curl; returns the status and body.
    func post(_ endpoint: String, csr name: String, headers: [String] = [], clientCert: String? = nil,
              contentType: String = "application/pkcs10") throws -> (status: Int, body: String) {
        var arguments = ["-H", "Content-Type: \(contentType)", "--data-binary", "@\(name).b64"]
        for header in headers { arguments += ["-H", header] }
        if let clientCert { arguments += ["--cert", "\(clientCert).crt", "--key", "\(clientCert).key"] }
        return try curl("/.well-known/est/\(endpoint)", arguments)
    }

    /// GETs (or, with `arguments`, anything curl does) `path` on the server; the body without trailing newlines.
    func curl(_ path: String, _ arguments: [String] = []) throws -> (status: Int, body: String) {
        let result = try Command.run(
            "curl", ["-sS", "--max-time", "20", "--cacert", "pki/ca.crt", "-w", "\n%{http_code}"] + arguments + [url + path],
            directory: ws.url)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let body = lines.dropLast().joined(separator: "\n").trimmingCharacters(in: .newlines)
        return (Int(lines.last ?? "") ?? -1, body)
    }

    /// Decodes an EST certs-only answer with openssl (base64 → DER → `pkcs7 -print_certs`) into `file`.
    func saveCertificates(_ body: String, to file: String) throws {
        guard let der = Data(base64Encoded: body, options: .ignoreUnknownCharacters) else {
            throw TestFailure("not base64: \(body)")
        }
        let result = try ws.openssl(["pkcs7", "-inform", "DER", "-print_certs", "-out", file], input: der)
        guard result.status == 0 else { throw TestFailure("openssl pkcs7 could not read the answer: \(result.output)") }
    }
}
