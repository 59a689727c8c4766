# Shared by the scripts: the Debian mirror this machine's apt already uses,
# read from its sources (never a hard-coded host).
debian_mirror() {
  {
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}'
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '/^deb / {sub(/^deb (\[[^]]*\] )?/, ""); print $1}'
  } 2>/dev/null | grep -E '/debian/?$' | grep -v security | head -n 1 || true
}
