/// JSON writes characters outside the Basic Multilingual Plane as UTF-16 surrogate pairs
/// (`"\ud83d\ude00"`, Python's `json.dumps` does by default); YAML's `\u` escapes must be whole
/// code points, so libyaml refuses them. For JSON-looking input (starting with `{` or `[`), each
/// such pair inside a double-quoted string becomes YAML's `\UXXXXXXXX` escape (two characters
/// shorter: columns after it on that line shift by two).
enum JSONSurrogates {
  static func joined(_ bytes: [UInt8]) -> [UInt8] {
    guard let first = bytes.first(where: { !isSpace($0) }),
      first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
      containsSurrogateEscape(bytes)
    else { return bytes }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    var inString = false
    while i < bytes.count {
      let b = bytes[i]
      if !inString {
        if b == UInt8(ascii: "\"") { inString = true }
        out.append(b)
        i += 1
        continue
      }
      if b == UInt8(ascii: "\"") {
        inString = false
        out.append(b)
        i += 1
      } else if b == UInt8(ascii: "\\"), i + 1 < bytes.count {
        if bytes[i + 1] == UInt8(ascii: "u"), let high = hex4(bytes, i + 2),
          (0xD800...0xDBFF).contains(high),
          i + 7 < bytes.count, bytes[i + 6] == UInt8(ascii: "\\"),
          bytes[i + 7] == UInt8(ascii: "u"),
          let low = hex4(bytes, i + 8), (0xDC00...0xDFFF).contains(low)
        {
          let scalar = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
          let digits = String(scalar, radix: 16)
          out += Array(("\\U" + String(repeating: "0", count: 8 - digits.count) + digits).utf8)
          i += 12
        } else {
          out += bytes[i...i + 1]
          i += 2
        }
      } else {
        out.append(b)
        i += 1
      }
    }
    return out
  }

  private static func isSpace(_ b: UInt8) -> Bool {
    b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
  }

  private static func containsSurrogateEscape(_ bytes: [UInt8]) -> Bool {
    guard bytes.count >= 6 else { return false }
    for i in 0..<(bytes.count - 5)
    where bytes[i] == UInt8(ascii: "\\") && bytes[i + 1] == UInt8(ascii: "u") {
      if let v = hex4(bytes, i + 2), (0xD800...0xDBFF).contains(v) { return true }
    }
    return false
  }

  private static func hex4(_ bytes: [UInt8], _ at: Int) -> Int? {
    guard at + 4 <= bytes.count else { return nil }
    var v = 0
    for b in bytes[at..<at + 4] {
      guard let d = Int(String(UnicodeScalar(b)), radix: 16) else { return nil }
      v = v * 16 + d
    }
    return v
  }
}
