// The platform every MeshCA module builds on, imported in one place: FoundationEssentials (not all of
// Foundation, whose CoreFoundation, ICU and conformance records would ride along in every static binary) and
// the C library.
#if canImport(FoundationEssentials)
@_exported import FoundationEssentials
#else
@_exported import Foundation
#endif
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#elseif canImport(Darwin)
@_exported import Darwin
#endif
