import RuleLang

/// What the VM decided for a packet: the rule that matched (its action is in the program's rule
/// table), or none (the packet is dropped), and how many rewrites were recorded.
public struct Verdict: Sendable, Hashable {
  /// Index into `Program.rules`, or -1 when no rule matched.
  public var rule: Int32
  public var rewriteCount: Int32

  public var matched: Bool { rule >= 0 }
  public static let noMatch = Verdict(rule: -1, rewriteCount: 0)
}

/// A `set` recorded during evaluation. Byte values point into the packet or the program and are
/// valid only while the evaluation's inputs are.
public struct Rewrite {
  /// The path's constant index (`Constant.path`).
  public var path: UInt16
  public var value: RewriteValue
  /// Room for the value's text: a string field (`HTTP.…`) set to an int or an address reads back
  /// as its text in the same evaluation, and the text is written here.
  var text = RewriteText()
}

/// 48 bytes: room for any int (20 characters) or IPv6 address (39) in text.
struct RewriteText {
  var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
}

/// Text without allocation: `String(x)` and `IPAddress.description`, written into raw memory.
enum TextFormat {
  /// Writes the decimal text of `x` at `p`; returns its length.
  static func int(_ x: Int64, _ p: UnsafeMutableRawPointer) -> Int {
    var m = x.magnitude
    var digits = 1
    var t = m
    while t >= 10 {
      t /= 10
      digits += 1
    }
    let n = digits + (x < 0 ? 1 : 0)
    if x < 0 { p.storeBytes(of: UInt8(ascii: "-"), as: UInt8.self) }
    var pos = n - 1
    repeat {
      p.storeBytes(of: UInt8(48 + m % 10), toByteOffset: pos, as: UInt8.self)
      m /= 10
      pos -= 1
    } while m > 0
    return n
  }

  /// Writes an address as `IPAddress.description` does (dotted quad; RFC 5952 for IPv6).
  static func ip(_ a: IPAddress, _ p: UnsafeMutableRawPointer) -> Int {
    var n = 0
    func put(_ c: UInt8) {
      p.storeBytes(of: c, toByteOffset: n, as: UInt8.self)
      n += 1
    }
    if a.isV4 {
      for k in 0..<4 {
        if k > 0 { put(UInt8(ascii: ".")) }
        n += int(Int64(a.v4 >> (24 - 8 * UInt32(k)) & 0xFF), p + n)
      }
      return n
    }
    func group(_ k: Int) -> UInt16 {
      UInt16(truncatingIfNeeded: k < 4 ? a.high >> (16 * (3 - k)) : a.low >> (16 * (7 - k)))
    }
    // The longest run of two or more zero groups (the first of equals) becomes "::".
    var bestStart = -1
    var bestLength = 1
    var k = 0
    while k < 8 {
      guard group(k) == 0 else {
        k += 1
        continue
      }
      var e = k
      while e < 8, group(e) == 0 { e += 1 }
      if e - k > bestLength {
        bestStart = k
        bestLength = e - k
      }
      k = e
    }
    k = 0
    while k < 8 {
      if k == bestStart {
        put(UInt8(ascii: ":"))
        put(UInt8(ascii: ":"))
        k += bestLength
        continue
      }
      if k > 0, k != bestStart + bestLength { put(UInt8(ascii: ":")) }
      let g = group(k)
      var shift = 12
      while shift > 0, (g >> UInt16(shift)) & 0xF == 0 { shift -= 4 }
      while shift >= 0 {
        let d = UInt8((g >> UInt16(shift)) & 0xF)
        put(d < 10 ? 48 + d : 87 + d)
        shift -= 4
      }
      k += 1
    }
    return n
  }
}

public enum RewriteValue {
  case int(Int64)
  case bytes(UnsafeRawBufferPointer, folded: Bool)
  case ip(IPAddress)
  /// A constant of the program: `K[index]`.
  case constant(UInt32)
}
