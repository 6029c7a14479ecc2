import MeshPlatform

/// One environment variable, read with `getenv`: `ProcessInfo.environment` copies the whole environment
/// into a dictionary first, ≈ 1.5 M instructions the first time — a tenth of a one-shot `certtool issue`.
public func environmentVariable(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}
