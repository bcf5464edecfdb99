import Testing

@testable import RuleLang

/// `starts` on an address compiles to the intervals of the IPv4 addresses whose dotted text starts
/// with the prefix. Checked against the definition: an address is in the intervals exactly when
/// its text starts with the prefix, for addresses near every prefix and at random.
@Suite struct IPTextPrefixTests {
  static let prefixes = [
    "", "1", "10", "10.", "10.1", "10.1.", "10.12.3.", "25", "255.", "256", "0", "0.", "01", "00.",
    "1.2.3.4", "1.2.3.4.", "1.2.3.25", "192.168.10.0", "1..", ".", "a", "10.x", "1.2.3.4.5", "999",
    "2", "3.", "100.200.250.2",
  ]

  func contains(_ intervals: [IPInterval], _ a: UInt32) -> Bool {
    intervals.contains { $0.lo.v4 <= a && a <= $0.hi.v4 }
  }

  func text(_ a: UInt32) -> String {
    "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)"
  }

  @Test(arguments: prefixes)
  func intervalsHoldExactlyTheAddressesWithThePrefix(prefix: String) {
    let intervals = Intervals.ipv4TextPrefix(prefix)
    #expect(intervals == Intervals.normalize(intervals))
    var rng = SystemRandomNumberGenerator()
    var samples: [UInt32] = (0..<2_000).map { _ in UInt32.random(in: .min ... .max, using: &rng) }
    // Addresses that share the prefix's octets, and their neighbours in every octet.
    let given = prefix.split(separator: ".", omittingEmptySubsequences: false).compactMap {
      UInt32($0)
    }.filter { $0 <= 255 }
    for _ in 0..<2_000 {
      var a: UInt32 = 0
      for i in 0..<4 {
        let base = i < given.count ? given[i] : UInt32.random(in: 0...255, using: &rng)
        let octet = [base, base * 10 + UInt32.random(in: 0...9, using: &rng), base &+ 1, base &- 1]
          .randomElement(using: &rng)!
        a = a << 8 | (octet & 255)
      }
      samples.append(a)
    }
    for i in intervals {
      samples += [i.lo.v4, i.hi.v4, i.lo.v4 &- 1, i.hi.v4 &+ 1]
    }
    let wrong = samples.filter { contains(intervals, $0) != text($0).hasPrefix(prefix) }
    #expect(wrong.prefix(3).map(text) == [])
  }

  @Test func knownPrefixes() {
    func addr(_ s: String) -> IPAddress { try! IPAddress.parse(s).get() }
    #expect(
      Intervals.ipv4TextPrefix("10.") == [
        IPInterval(lo: addr("10.0.0.0"), hi: addr("10.255.255.255"))
      ])
    #expect(
      Intervals.ipv4TextPrefix("1.2.3.4") == [
        IPInterval(lo: addr("1.2.3.4"), hi: addr("1.2.3.4")),
        IPInterval(lo: addr("1.2.3.40"), hi: addr("1.2.3.49")),
      ])
    #expect(
      Intervals.ipv4TextPrefix("") == [IPInterval(lo: addr("0.0.0.0"), hi: addr("255.255.255.255"))]
    )
    #expect(Intervals.ipv4TextPrefix("1.2.3.4.").isEmpty)
    #expect(Intervals.ipv4TextPrefix("01").isEmpty)
  }
}
