import Crypto
import Foundation
import MeshCA
import MeshTLS
import SidecarConfig
import NIOCore

/// The parsers that take untrusted input, one fuzz target each. Built normally, this executable replays
/// files through a target (`meshca-fuzz TARGET FILE...`: the regression test for inputs that once crashed);
/// built by scripts/fuzz with `-sanitize=fuzzer,address -DFUZZING`, it is a libFuzzer target selected by
/// `MESHCA_FUZZ_TARGET`.
enum FuzzTargets {
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "san": { _ = try? SubjectAltName(parsing: String(decoding: $0, as: UTF8.self)) },
        "csr": { _ = try? CertificateRequestFile.parse($0, source: "fuzz") },
        "pem": { _ = try? PEMFiles.certificates(bytes: $0, source: "fuzz") },
        "pkcs7": { _ = try? CertsOnlyPKCS7.decodeBase64($0); _ = try? CertsOnlyPKCS7.decode($0) },
        "index": { _ = try? CertificateDatabase(parsing: String(decoding: $0, as: UTF8.self), source: "fuzz") },
        "token": { bytes in
            let provisioner = Provisioner(privateKey: key)
            let done = DispatchSemaphore(value: 0)
            Task {
                _ = try? await provisioner.verify(String(decoding: bytes, as: UTF8.self))
                done.signal()
            }
            done.wait()
        },
        "http-request": { _ = try? HTTPMessageCodec.decodeRequest(ByteBuffer(bytes: $0)) },
        "http-response": { _ = try? HTTPMessageCodec.decodeResponse(ByteBuffer(bytes: $0)) },
        "web-config": { _ = try? WebConfigFile.parse(String(decoding: $0, as: UTF8.self), path: "/fuzz/web.yml") },
        "sidecar-config": { _ = try? SidecarConfigFile.parse(String(decoding: $0, as: UTF8.self), path: "/fuzz/sidecar.yml") },
    ]

    static let key = P256.Signing.PrivateKey()

    static var selected: @Sendable ([UInt8]) -> Void {
        let name = ProcessInfo.processInfo.environment["MESHCA_FUZZ_TARGET"] ?? ""
        guard let target = all[name] else {
            FileHandle.standardError.write(Data("set MESHCA_FUZZ_TARGET to one of \(all.keys.sorted().joined(separator: ", "))\n".utf8))
            exit(2)
        }
        return target
    }
}

#if FUZZING
private let target = FuzzTargets.selected

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    target(Array(UnsafeBufferPointer(start: start, count: count)))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry point as `MODULE_main`; hand control to libFuzzer's driver from there.
@_cdecl("MeshCAFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}
#else
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTargets.all[name] else {
            FileHandle.standardError.write(Data("usage: meshca-fuzz TARGET FILE... (targets: \(FuzzTargets.all.keys.sorted().joined(separator: ", ")))\n".utf8))
            exit(2)
        }
        for file in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            target(Array(data))
        }
        print("replayed \(arguments.count - 1) inputs through \(name)")
    }
}
#endif
