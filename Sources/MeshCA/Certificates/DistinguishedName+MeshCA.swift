import SwiftASN1
import X509

// Built and formatted here rather than with swift-certificates' result builder and `description`: those are
// generic code the compiler cannot specialize across modules, and each first use costs the Swift runtime a
// scan of every protocol conformance in the binary, a visible share of a `certtool issue` run
// (docs/benchmarks.md, session 12).
extension DistinguishedName {
    /// `CN=commonName`, the only subject MeshCA issues (UTF8String, as `CommonName` encodes it).
    public init(commonName: String) {
        self.init([RelativeDistinguishedName(.init(type: .RDNAttributeType.commonName, utf8String: commonName))])
    }

    /// The first common name, if any.
    public var commonName: String? {
        for rdn in self {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return attribute.value.description
            }
        }
        return nil
    }

    /// RFC 4514 form, most specific name first (`CN=web,O=Org`): the same text as swift-certificates' `description`.
    public var rfc4514: String {
        reversed().map { rdn in rdn.map(\.description).joined(separator: "+") }.joined(separator: ",")
    }

    /// OpenSSL's one-line form (`/C=XX/O=Org/CN=name`) used in index.txt.
    public var opensslOneLine: String {
        self.flatMap { rdn in rdn.map { "/\($0.type.shortName)=\($0.value)" } }.joined()
    }
}

extension ASN1ObjectIdentifier {
    var shortName: String {
        switch self {
        case ASN1ObjectIdentifier.RDNAttributeType.commonName: return "CN"
        case ASN1ObjectIdentifier.RDNAttributeType.countryName: return "C"
        case ASN1ObjectIdentifier.RDNAttributeType.localityName: return "L"
        case ASN1ObjectIdentifier.RDNAttributeType.stateOrProvinceName: return "ST"
        case ASN1ObjectIdentifier.RDNAttributeType.organizationName: return "O"
        case ASN1ObjectIdentifier.RDNAttributeType.organizationalUnitName: return "OU"
        case ASN1ObjectIdentifier.RDNAttributeType.streetAddress: return "street"
        case ASN1ObjectIdentifier.RDNAttributeType.domainComponent: return "DC"
        case ASN1ObjectIdentifier.RDNAttributeType.emailAddress: return "emailAddress"
        default: return description
        }
    }
}
