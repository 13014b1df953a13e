# Shared by the bench scripts (sourced, not run).
#
# pinning: PIN=auto (default) pins the server to CPU 0 and the load client
# to CPU 1 when taskset and two CPUs are there; PIN=1 forces it, PIN=0
# turns it off. Sets the arrays server_pin and load_pin to prefix commands.
PIN="${PIN:-auto}"
if [ "$PIN" = auto ]; then
  if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN=1; else PIN=0; fi
fi
server_pin=(); load_pin=()
if [ "$PIN" = 1 ]; then server_pin=(taskset -c 0); load_pin=(taskset -c 1); fi

# A free TCP port on the loopback interface.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
