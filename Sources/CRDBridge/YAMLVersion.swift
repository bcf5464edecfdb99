/// The VirtualService bridge arrives with issue 5.
import CLibYAML

/// The libyaml version string, proving the YAML library is linked.
public func yamlLibraryVersion() -> String {
  String(cString: yaml_get_version_string())
}
