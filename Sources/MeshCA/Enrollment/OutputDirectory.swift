import MeshPlatform
import X509

/// A directory of output certificates in the file names Prometheus setups use (Istio's OUTPUT_CERTS):
/// `root-cert.pem`, `cert-chain.pem` (leaf, then intermediates) and `key.pem`.
///
/// The three always change together, as Kubernetes updates Secret volumes: each set is written into a new
/// `..TIMESTAMP` directory and published by renaming one `..data` symlink over the old one; the file names
/// are symlinks into `..data`. The previous set is kept until the next rotation, so a reader that resolved
/// `..data` once still finds a whole set.
public struct OutputDirectory: Sendable {
    public static let rootFile = "root-cert.pem"
    public static let chainFile = "cert-chain.pem"
    public static let keyFile = "key.pem"
    static let files = [rootFile, chainFile, keyFile]

    public let path: String
    /// Mode of key.pem: 0600 by default, 0644 when another uid (Prometheus) must read it.
    public let keyMode: mode_t

    public init(path: String, keyMode: mode_t = 0o600) {
        self.path = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        self.keyMode = keyMode
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// A set read back from the directory.
    public struct Contents: Sendable {
        public var roots: [Certificate]
        public var chain: [Certificate]
        public var key: Certificate.PrivateKey
        /// When this set was published: its certificate's lifetime is measured from here, not from its
        /// back-dated notBefore.
        public var publishedAt: Date

        public var certificate: Certificate { chain[0] }
    }

    /// The current set, or nil when there is none or it is unusable (missing file, key not matching).
    public func load() -> Contents? {
        let data = file("..data")
        guard let rootsPEM = try? String(contentsOfFile: "\(data)/\(Self.rootFile)", encoding: .utf8),
            let chainPEM = try? String(contentsOfFile: "\(data)/\(Self.chainFile)", encoding: .utf8),
            let keyPEM = try? String(contentsOfFile: "\(data)/\(Self.keyFile)", encoding: .utf8),
            let roots = try? PEMFiles.certificates(rootsPEM, source: Self.rootFile),
            let chain = try? PEMFiles.certificates(chainPEM, source: Self.chainFile),
            let key = try? Certificate.PrivateKey(pemEncoded: keyPEM), key.publicKey == chain[0].publicKey
        else { return nil }
        var info = stat()
        let publishedAt = lstat(data, &info) == 0 ? Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)) : Date()
        return Contents(roots: roots, chain: chain, key: key, publishedAt: publishedAt)
    }

    /// Publishes a new set atomically. Each file is written and fsynced in a fresh version directory before
    /// the `..data` rename; sets older than the previous one are removed afterwards.
    public func write(roots: [Certificate], chain: [Certificate], key: Certificate.PrivateKey, now: Date = Date()) throws {
        try createDirectory(path, mode: 0o755)
        let previous = (try? FileManager.default.destinationOfSymbolicLink(atPath: file("..data")))
        let version = "..\(Self.versionStamp(now))"
        let versionPath = file(version)
        try createDirectory(versionPath, mode: 0o755)
        do {
            try writeFile("\(versionPath)/\(Self.rootFile)", try roots.map { try $0.pemString() }.joined(), mode: 0o644)
            try writeFile("\(versionPath)/\(Self.chainFile)", try chain.map { try $0.pemString() }.joined(), mode: 0o644)
            try writeFile("\(versionPath)/\(Self.keyFile)", try key.pkcs8PEM(), mode: keyMode)
            try syncDirectory(versionPath)
            try replaceSymlink(named: "..data", pointingTo: version)
        } catch {
            // Not published: the current set stays, and a full disk gets its space back.
            try? FileManager.default.removeItem(atPath: versionPath)
            throw error
        }
        for name in Self.files where (try? FileManager.default.destinationOfSymbolicLink(atPath: file(name))) != "..data/\(name)" {
            try replaceSymlink(named: name, pointingTo: "..data/\(name)")
        }
        try syncDirectory(path)

        let keep: Set<String> = [version, "..data", previous].compactMap { $0 }.reduce(into: []) { $0.insert($1) }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        where entry.hasPrefix("..") && !keep.contains(entry) {
            try? FileManager.default.removeItem(atPath: file(entry))
        }
    }

    /// `..2026_11_22_03_21_44.123456789`, as the kubelet names its versions.
    private static func versionStamp(_ now: Date) -> String {
        let time = UTCDateTime(now)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let nanos = String(Int((now.timeIntervalSince1970.truncatingRemainder(dividingBy: 1)) * 1e9))
        let fraction = String(repeating: "0", count: max(0, 9 - nanos.count)) + nanos
        return "\(time.year)_\(two(time.month))_\(two(time.day))_\(two(time.hour))_\(two(time.minute))_\(two(time.second)).\(fraction)"
    }

    private func createDirectory(_ directory: String, mode: mode_t) throws {
        if mkdir(directory, mode) != 0 && errno != EEXIST {
            throw MeshCAError.io("cannot create \(directory): \(errnoDescription())")
        }
        chmod(directory, mode)
    }

    private func writeFile(_ file: String, _ text: String, mode: mode_t) throws {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw MeshCAError.io("cannot create \(file): \(errnoDescription())") }
        defer { close(fd) }
        // The umask must not narrow what the caller asked for (0644 keys for another uid).
        fchmod(fd, mode)
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw MeshCAError.io("cannot write \(file): \(errnoDescription())") }
            written += result
        }
        guard fsync(fd) == 0 else { throw MeshCAError.io("cannot sync \(file): \(errnoDescription())") }
    }

    private func replaceSymlink(named name: String, pointingTo target: String) throws {
        let temporary = file("\(name).tmp")
        unlink(temporary)
        guard symlink(target, temporary) == 0 else {
            throw MeshCAError.io("cannot create symlink \(temporary): \(errnoDescription())")
        }
        guard rename(temporary, file(name)) == 0 else {
            unlink(temporary)
            throw MeshCAError.io("cannot replace \(file(name)): \(errnoDescription())")
        }
    }

    private func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw MeshCAError.io("cannot open \(directory): \(errnoDescription())") }
        defer { close(fd) }
        fsync(fd)
    }
}
