# Sourced by the fuzz scripts whose targets sit on top of RuleLang (run-program.sh,
# run-packets.sh): `build_on_rulelang NAME ENTRY.swift SOURCE...` builds RuleLang as a static
# module (rebuilt only when its sources change), then the SOURCE files or folders and the entry
# point as one module on top of it (their `import VM` lines dropped, VM being among them), both with -sanitize=fuzzer,address, into .build-fuzz/NAME.
# Sources are built from a snapshot, so that edits made meanwhile do not break the build.
build_on_rulelang() {
  local name="$1" entry="$2"
  shift 2
  local work=".build-fuzz/$name-build" swiftc="${SWIFTC:-swiftc}"
  local flags=(-sanitize=fuzzer,address -parse-as-library -Onone -g -swift-version 6 -use-ld=lld)
  echo "== building .build-fuzz/$name"
  rm -rf "$work/src.new"
  mkdir -p "$work/src.new/parts"
  cp -R Sources/RuleLang "$work/src.new/"
  cp -R "$@" "$entry" "$work/src.new/parts/"
  if ! diff -r -q "$work/src.new/RuleLang" "$work/src/RuleLang" >/dev/null 2>&1 \
    || [ ! -f "$work/libRuleLang.a" ]; then
    echo "   RuleLang"
    local rulelang
    mapfile -t rulelang < <(find "$work/src.new/RuleLang" -name '*.swift' | sort)
    "$swiftc" "${flags[@]}" -module-name RuleLang -emit-module \
      -emit-module-path "$work/RuleLang.swiftmodule" -emit-library -static \
      -o "$work/libRuleLang.a" "${rulelang[@]}"
  fi
  rm -rf "$work/src"
  mv "$work/src.new" "$work/src"
  # The parts are one module: a part that imports VM (the Repl's frame decoder) finds it in there.
  find "$work/src/parts" -name '*.swift' -exec sed -i '/^import VM$/d' {} +
  echo "   $* and $(basename "$entry")"
  local parts
  mapfile -t parts < <(find "$work/src/parts" -name '*.swift' | sort)
  "$swiftc" "${flags[@]}" -module-name "Fuzz_${name//-/_}" -I "$work" -L "$work" -lRuleLang \
    "${parts[@]}" -o ".build-fuzz/$name"
}
