import SwiftASN1
import X509

extension DistinguishedName {
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
