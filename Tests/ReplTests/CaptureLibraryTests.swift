import Testing

@testable import Repl

/// The REPL reads captures through libpcap (issue 4); until then, this proves the library links.
@Test func libpcapIsLinked() {
  #expect(pcapLibraryVersion().hasPrefix("libpcap version "))
}
