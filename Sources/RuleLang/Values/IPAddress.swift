/// An IPv4 or IPv6 address. IPv4 addresses are held as IPv4-mapped IPv6 (`::ffff:a.b.c.d`) so that
/// one 128-bit comparison serves both families; `isV4` keeps which one was written or received.
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
  public let high: UInt64
  public let low: UInt64
  public let isV4: Bool

  public init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
    self.isV4 = high == 0 && (low >> 32) == 0xFFFF
  }

  public init(v4: UInt32) {
    self.high = 0
    self.low = 0xFFFF_0000_0000 | UInt64(v4)
    self.isV4 = true
  }

  /// The 32-bit value of an IPv4 address.
  public var v4: UInt32 { UInt32(truncatingIfNeeded: low) }

  public static func < (a: IPAddress, b: IPAddress) -> Bool {
    (a.high, a.low) < (b.high, b.low)
  }

  /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text. On failure, the reason in words.
  public static func parse(_ text: String) -> Result<IPAddress, IPParseError> {
    if text.contains(":") { return parseV6(Array(text.utf8)) }
    return parseV4(Array(text.utf8)).map { IPAddress(v4: $0) }
  }

  static func parseV4(_ s: [UInt8]) -> Result<UInt32, IPParseError> {
    var value: UInt32 = 0
    var octets = 0
    var i = 0
    while i <= s.count {
      var digits = 0
      var octet = 0
      while i < s.count, s[i] >= 0x30, s[i] <= 0x39 {
        octet = octet * 10 + Int(s[i] - 0x30)
        digits += 1
        i += 1
        if digits > 3 { return .failure(.init("IPv4 octet has more than 3 digits")) }
      }
      if digits == 0 { return .failure(.init("IPv4 address has an empty octet")) }
      if octet > 255 { return .failure(.init("IPv4 octet \(octet) is greater than 255")) }
      value = value << 8 | UInt32(octet)
      octets += 1
      if i == s.count { break }
      if s[i] != UInt8(ascii: ".") {
        return .failure(.init("unexpected character in IPv4 address"))
      }
      i += 1
    }
    guard octets == 4 else {
      return .failure(.init("IPv4 address needs 4 octets, found \(octets)"))
    }
    return .success(value)
  }

  static func parseV6(_ s: [UInt8]) -> Result<IPAddress, IPParseError> {
    var groups: [UInt16] = []
    var gap: Int? = nil
    var i = 0
    if s.starts(with: Array("::".utf8)) {
      gap = 0
      i = 2
      if s.count == 2 { return .success(IPAddress(high: 0, low: 0)) }
    } else if s.first == UInt8(ascii: ":") {
      return .failure(.init("IPv6 address cannot start with a single ':'"))
    }
    while i < s.count {
      // An embedded IPv4 tail (::ffff:10.0.0.1) takes the last two groups.
      var j = i
      while j < s.count, s[j] != UInt8(ascii: ":") { j += 1 }
      let part = Array(s[i..<j])
      if part.contains(UInt8(ascii: ".")) {
        guard j == s.count else { return .failure(.init("IPv4 part must end an IPv6 address")) }
        switch parseV4(part) {
        case .failure(let e): return .failure(e)
        case .success(let v):
          groups.append(UInt16(v >> 16))
          groups.append(UInt16(v & 0xFFFF))
        }
        i = j
        break
      }
      guard !part.isEmpty, part.count <= 4 else {
        return .failure(
          .init(
            part.isEmpty
              ? "IPv6 address has an empty group" : "IPv6 group has more than 4 hex digits"))
      }
      var g: UInt16 = 0
      for c in part {
        guard let d = hexValue(c) else {
          return .failure(.init("'\(Character(UnicodeScalar(c)))' is not a hex digit"))
        }
        g = g << 4 | UInt16(d)
      }
      groups.append(g)
      i = j
      if i < s.count {
        // s[i] == ":"
        if i + 1 < s.count, s[i + 1] == UInt8(ascii: ":") {
          if gap != nil { return .failure(.init("IPv6 address has more than one '::'")) }
          gap = groups.count
          i += 2
        } else {
          i += 1
          if i == s.count { return .failure(.init("IPv6 address cannot end with a single ':'")) }
        }
      }
    }
    if let gap {
      guard groups.count <= 7 else { return .failure(.init("IPv6 address has too many groups")) }
      groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: gap)
    } else if groups.count != 8 {
      return .failure(.init("IPv6 address needs 8 groups or '::', found \(groups.count)"))
    }
    var hi: UInt64 = 0
    var lo: UInt64 = 0
    for k in 0..<4 { hi = hi << 16 | UInt64(groups[k]) }
    for k in 4..<8 { lo = lo << 16 | UInt64(groups[k]) }
    return .success(IPAddress(high: hi, low: lo))
  }

  /// Dotted quad for IPv4; RFC 5952 text (lower case, longest zero run as `::`) for IPv6.
  public var description: String {
    if isV4 {
      let v = v4
      return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
    }
    var groups: [UInt16] = []
    for k in (0..<4).reversed() { groups.append(UInt16(truncatingIfNeeded: high >> (16 * k))) }
    for k in (0..<4).reversed() { groups.append(UInt16(truncatingIfNeeded: low >> (16 * k))) }
    var bestStart = -1
    var bestLen = 1
    var k = 0
    while k < 8 {
      if groups[k] == 0 {
        var e = k
        while e < 8, groups[e] == 0 { e += 1 }
        if e - k > bestLen {
          bestStart = k
          bestLen = e - k
        }
        k = e
      } else {
        k += 1
      }
    }
    func hex(_ r: Range<Int>) -> String {
      r.map { String(groups[$0], radix: 16) }.joined(separator: ":")
    }
    if bestStart < 0 { return hex(0..<8) }
    return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
  }

  /// The address with all but the first `bits` bits cleared (bits count in the written family).
  public func masked(to bits: Int) -> IPAddress {
    let total = isV4 ? 32 : 128
    let keep = (isV4 ? 96 : 0) + max(0, min(bits, total))
    let hiMask: UInt64 = keep >= 64 ? ~0 : keep == 0 ? 0 : ~0 << (64 - keep)
    let loMask: UInt64 = keep <= 64 ? 0 : keep >= 128 ? ~0 : ~0 << (128 - keep)
    return IPAddress(high: high & hiMask, low: low & loMask)
  }
}

public struct IPParseError: Error, Sendable, Hashable {
  public let message: String
  init(_ message: String) { self.message = message }
}

/// An address block: network address and prefix length (0–32 for IPv4, 0–128 for IPv6).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
  public let network: IPAddress
  public let prefixLength: Int
  /// Whether the written address had bits set beyond the prefix (`10.0.0.1/24`): legal, but likely
  /// a mistake, so the checker warns.
  public let hadHostBits: Bool

  public init(address: IPAddress, prefixLength: Int) {
    let net = address.masked(to: prefixLength)
    self.network = net
    self.prefixLength = prefixLength
    self.hadHostBits = net != address
  }

  public static func parse(_ text: String) -> Result<CIDR, IPParseError> {
    guard let slash = text.lastIndex(of: "/") else {
      return .failure(.init("CIDR needs '/prefix'"))
    }
    let addrText = String(text[..<slash])
    let lenText = text[text.index(after: slash)...]
    let addr: IPAddress
    switch IPAddress.parse(addrText) {
    case .failure(let e): return .failure(e)
    case .success(let a): addr = a
    }
    let maxLen = addr.isV4 ? 32 : 128
    guard !lenText.isEmpty, lenText.count <= 3, lenText.allSatisfy(\.isASCII),
      let len = Int(lenText)
    else { return .failure(.init("CIDR prefix length must be a number from 0 to \(maxLen)")) }
    guard len <= maxLen else {
      return .failure(.init("prefix length /\(len) is longer than \(maxLen) bits"))
    }
    return .success(CIDR(address: addr, prefixLength: len))
  }

  public func contains(_ a: IPAddress) -> Bool {
    a.isV4 == network.isV4 && a.masked(to: prefixLength) == network
  }

  public var description: String { "\(network)/\(prefixLength)" }
}

@inline(__always)
func hexValue(_ c: UInt8) -> UInt8? {
  switch c {
  case 0x30...0x39: return c - 0x30
  case 0x41...0x46: return c - 0x41 + 10
  case 0x61...0x66: return c - 0x61 + 10
  default: return nil
  }
}
