/// "Did you mean …?" suggestions by edit distance.
public enum Spelling {
  /// The candidates within a small edit distance of `word`, closest first.
  public static func closest(to word: String, in candidates: [String], limit: Int = 1) -> [String] {
    let w = Array(word.lowercased().utf8)
    let maxDistance = max(1, min(3, w.count / 3))
    var scored: [(Int, String)] = []
    for c in candidates {
      let d = distance(w, Array(c.lowercased().utf8), limit: maxDistance)
      if d <= maxDistance { scored.append((d, c)) }
    }
    scored.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
    return Array(scored.prefix(limit).map(\.1))
  }

  /// Damerau–Levenshtein (optimal string alignment) distance, exact up to `limit`; a greater
  /// distance is reported as `limit + 1`. Only the cells within `limit` of the diagonal are
  /// computed, so that long names (and many of them) cost little.
  static func distance(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int {
    let far = limit + 1
    if abs(a.count - b.count) > limit { return far }
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var prev2 = [Int](repeating: far, count: b.count + 1)
    var prev = [Int](repeating: far, count: b.count + 1)
    var cur = [Int](repeating: far, count: b.count + 1)
    for j in 0...min(b.count, limit) { prev[j] = j }
    for i in 1...a.count {
      let lo = max(1, i - limit)
      let hi = min(b.count, i + limit)
      cur[lo - 1] = i <= limit ? i : far
      var rowMin = cur[lo - 1]
      if lo <= hi {
        for j in lo...hi {
          let cost = a[i - 1] == b[j - 1] ? 0 : 1
          var d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
          if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
            d = min(d, prev2[j - 2] + 1)
          }
          cur[j] = min(d, far)
          rowMin = min(rowMin, cur[j])
        }
      }
      if hi < b.count { cur[hi + 1] = far }
      if rowMin > limit { return far }
      swap(&prev2, &prev)
      swap(&prev, &cur)
    }
    return min(prev[b.count], far)
  }

  /// ", did you mean 'x'?" or "".
  static func suggestion(_ word: String, in candidates: [String]) -> String {
    guard let best = closest(to: word, in: candidates).first else { return "" }
    return "; did you mean '\(best)'?"
  }
}
