/// The instruction set: one table, one line of meaning per opcode (as Lua's `lopcodes.h`).
///
/// Every instruction is 8 bytes: `op` (8 bits), `A` (8), `B` (16), `C` (32). Registers:
/// `R0…R15` 64-bit integers, `S0…S7` byte strings (views into the packet or the constant pool;
/// `S0` holds the payload on entry), `I0…I3` IP addresses. Every register has a *present* bit: a
/// missing field, a read past the payload's end or an absent header loads as not present, and any
/// comparison with a value that is not present is false.
///
/// Conditional jumps (`j…`) test a condition and jump to `C` when the condition's truth equals
/// the jump's polarity `k` (bit 7 of `A`); otherwise they fall through. Jumps only go forward, so
/// evaluation cannot loop and the longest path is bounded by the program's length. `K[x]` is
/// constant-pool entry `x`; `F` names a packet field (see `Field`).
public enum Opcode: UInt8, Sendable, CaseIterable {
  // control
  case nop = 0  //  no operation
  case jump  //  pc = C
  case match  //  stop: rule C matched (its action is in the rule table)
  case noMatch  //  stop: no rule matched; the packet is dropped
  case apply  //  pc = C: continue in another rulelist (placed after this one)
  case dispatch  //  pc = code of the first candidate rule of index K[B] (or its end)
  case next  //  pc = code of the next candidate after rule C of index K[B] (or its end)

  // loads
  case ldf  //  R[A] = int field F[B]
  case ldi  //  R[A] = C (32-bit immediate)
  case ldk  //  R[A] = K[C] (int)
  case lds  //  S[A] = bytes field F[B]
  case ldsk  //  S[A] = K[C] (bytes)
  case ldhdr  //  S[A] = HTTP header named K[C]
  case ldip  //  I[A] = ip field F[B]
  case ldipk  //  I[A] = K[C] (ip)
  case ldlab  //  register A of kind B (0 int, 1 bytes, 2 ip) = label or JSONSocket field named K[C]
  case ldb  //  R[A] = u8(S[B], C)
  case ldh  //  R[A] = u16(S[B], C), big-endian
  case ldw  //  R[A] = u32(S[B], C), big-endian
  case ldbx  //  R[A] = u8(S[B], R[C])
  case ldhx  //  R[A] = u16(S[B], R[C])
  case ldwx  //  R[A] = u32(S[B], R[C])
  case slice  //  S[A & 7] = S[A >> 4][B ..< B + C]
  case slicex  //  S[A & 7] = S[A >> 4][R[B] ..< R[B] + R[C]]
  case len  //  R[A] = len(S[B])
  case movs  //  S[A] = S[B]
  case fold  //  S[A] compares ASCII case-insensitively from now on (lower())
  case andi  //  R[A] = R[A] & C
  case andk  //  R[A] = R[A] & K[C]
  case andr  //  R[A] = R[A] & R[B]

  // integer compare-and-jump
  case jeqi  //  if (R[A] == B) == k then pc = C
  case jnei  //  if (R[A] != B) == k then pc = C
  case jeqk  //  if (R[A] == K[B]) == k then pc = C
  case jnek  //  if (R[A] != K[B]) == k then pc = C
  case jltk  //  if (R[A] < K[B]) == k then pc = C
  case jlek  //  if (R[A] <= K[B]) == k then pc = C
  case jgtk  //  if (R[A] > K[B]) == k then pc = C
  case jgek  //  if (R[A] >= K[B]) == k then pc = C
  case jink  //  if (R[A] in intervals K[B]) == k then pc = C
  case jeq  //  if (R[A] == R[B]) == k then pc = C
  case jne  //  if (R[A] != R[B]) == k then pc = C
  case jlt  //  if (R[A] < R[B]) == k then pc = C
  case jle  //  if (R[A] <= R[B]) == k then pc = C

  // fused field compare-and-jump (the hot shapes: no load instruction)
  case jfeqi  //  if (int field F[A] == B) == k then pc = C
  case jfink  //  if (int field F[A] in intervals K[B]) == k then pc = C
  case jfcidr  //  if (ip field F[A] in K[B] (ip set)) == k then pc = C
  case jfstarts  //  if (bytes field F[A] starts with K[B]) == k then pc = C

  // byte-string compare-and-jump
  case jbeq  //  if (S[A] == K[B]) == k then pc = C
  case jbne  //  if (S[A] != K[B]) == k then pc = C
  case jbstarts  //  if (S[A] starts with K[B]) == k then pc = C
  case jbends  //  if (S[A] ends with K[B]) == k then pc = C
  case jbcontains  //  if (S[A] contains K[B]) == k then pc = C
  case jbmatches  //  if (automaton K[B] matches S[A]) == k then pc = C
  case jbin  //  if (S[A] in byte-string set K[B]) == k then pc = C
  case jbeqr  //  if (S[A] == S[B]) == k then pc = C
  case jbner  //  if (S[A] != S[B]) == k then pc = C
  case jbstartsr  //  if (S[A] starts with S[B]) == k then pc = C
  case jbendsr  //  if (S[A] ends with S[B]) == k then pc = C
  case jbcontainsr  //  if (S[A] contains S[B]) == k then pc = C

  // address compare-and-jump
  case jipeq  //  if (I[A] == K[B]) == k then pc = C
  case jipne  //  if (I[A] != K[B]) == k then pc = C
  case jipin  //  if (I[A] in ip set K[B] (CIDRs and ranges)) == k then pc = C
  case jipeqr  //  if (I[A] == I[B]) == k then pc = C
  case jipner  //  if (I[A] != I[B]) == k then pc = C
  case jpresent  //  if (register A of kind B is present) == k then pc = C   (defined())

  // rewrites (set): recorded in the verdict and visible to later reads in this evaluation
  case setk  //  metadata path K[B] = K[C]
  case setr  //  metadata path K[B] = R[A]
  case sets  //  metadata path K[B] = S[A]
  case setip  //  metadata path K[B] = I[A]

  /// Whether this is a conditional jump whose `A` holds a polarity bit: the cases from `jeqi`
  /// to `jpresent`, which are declared together so that this is one range check.
  @inlinable public var isConditionalJump: Bool {
    rawValue >= Opcode.jeqi.rawValue && rawValue <= Opcode.jpresent.rawValue
  }

  /// Whether `C` is a jump target.
  public var jumps: Bool { isConditionalJump || self == .jump || self == .apply }

  public var isTerminal: Bool { self == .match || self == .noMatch }
}

/// One instruction: 8 bytes, fixed width.
public struct Instruction: Sendable, Hashable {
  public var op: Opcode
  public var a: UInt8
  public var b: UInt16
  public var c: UInt32

  public init(_ op: Opcode, a: UInt8 = 0, b: UInt16 = 0, c: UInt32 = 0) {
    self.op = op
    self.a = a
    self.b = b
    self.c = c
  }

  /// The polarity of a conditional jump: jump when the condition is true (`k`) or false.
  public var k: Bool { a & 0x80 != 0 }
  /// `A` without the polarity bit.
  public var reg: Int { Int(a & 0x7F) }
}

/// Packet fields an instruction can name directly.
public enum Field: UInt8, Sendable, CaseIterable, CustomStringConvertible {
  case srcAddr = 0  // ip
  case dstAddr  // ip
  case srcPort  // int: UDP or TCP source port
  case dstPort  // int
  case payload  // bytes
  case httpMethod  // bytes
  case httpPath  // bytes
  case httpQuery  // bytes
  case httpHost  // bytes, may be absent
  case unixFilename  // bytes

  public enum Kind: Sendable { case int, bytes, ip }

  public var kind: Kind {
    switch self {
    case .srcAddr, .dstAddr: return .ip
    case .srcPort, .dstPort: return .int
    default: return .bytes
    }
  }

  public var description: String {
    switch self {
    case .srcAddr: return "IP.src_addr"
    case .dstAddr: return "IP.dst_addr"
    case .srcPort: return "src_port"
    case .dstPort: return "dst_port"
    case .payload: return "payload"
    case .httpMethod: return "HTTP.method"
    case .httpPath: return "HTTP.url.path"
    case .httpQuery: return "HTTP.url.query"
    case .httpHost: return "HTTP.url.host"
    case .unixFilename: return "UNIX.filename"
    }
  }
}

/// Register files' sizes.
public enum Registers {
  public static let ints = 16
  public static let bytes = 8
  public static let ips = 4
}
