/// "Did you mean …?" suggestions by edit distance.
public enum Spelling {
  /// The candidates within a small edit distance of `word`, closest first.
  public static func closest(to word: String, in candidates: [String], limit: Int = 1) -> [String] {
    let w = Array(word.lowercased().utf8)
    let maxDistance = max(1, min(3, w.count / 3))
    var scored: [(Int, String)] = []
    for c in candidates {
      let d = distance(w, Array(c.lowercased().utf8))
      if d <= maxDistance { scored.append((d, c)) }
    }
    scored.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
    return Array(scored.prefix(limit).map(\.1))
  }

  /// Damerau–Levenshtein (optimal string alignment) distance.
  static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    if abs(a.count - b.count) > 8 { return abs(a.count - b.count) }
    var prev2 = [Int](repeating: 0, count: b.count + 1)
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      cur[0] = i
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          cur[j] = min(cur[j], prev2[j - 2] + 1)
        }
      }
      swap(&prev2, &prev)
      swap(&prev, &cur)
    }
    return prev[b.count]
  }

  /// ", did you mean 'x'?" or "".
  static func suggestion(_ word: String, in candidates: [String]) -> String {
    guard let best = closest(to: word, in: candidates).first else { return "" }
    return "; did you mean '\(best)'?"
  }
}
