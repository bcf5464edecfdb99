import Testing

@testable import CRDBridge

/// The bridge parses YAML with libyaml (issue 5); until then, this proves the library links.
@Test func libyamlIsLinked() {
  #expect(yamlLibraryVersion().hasPrefix("0."))
}
