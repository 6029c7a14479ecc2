import ArgumentParser
import MeshCA

extension Profile: EnumerableFlag {
    public static func help(for value: Profile) -> ArgumentHelp? {
        switch value {
        case .server: return "TLS server certificate (serverAuth)."
        case .client: return "TLS client certificate (clientAuth)."
        case .both: return "Both serverAuth and clientAuth."
        }
    }
}
