#!/usr/bin/env python3
# FUNCTION LOAD latency as tenants grow: creates N tenants (ACL SETUSER tI)
# on a running kiln-server at 127.0.0.1:PORT, loads one one-line library as
# each, and prints the median and p90 of every 250 loads.
#   python3 benches/function-load-time.py PORT N
import socket, time, sys
port=int(sys.argv[1]); n=int(sys.argv[2])
def cmd(s, *args):
    out=b"*%d\r\n"%len(args)
    for a in args:
        a=a if isinstance(a,bytes) else str(a).encode()
        out+=b"$%d\r\n%s\r\n"%(len(a),a)
    s.sendall(out)
    data=b""
    while not data.endswith(b"\r\n"):
        data+=s.recv(65536)
    return data
admin=socket.create_connection(("127.0.0.1",port))
lib="#!js name=lib\nkiln.registerFunction('hit', (k) => kiln.incr(k[0], 1));"
times=[]
for i in range(n):
    cmd(admin,"ACL","SETUSER",f"t{i}","on",f">p{i}","~*","+@all","-@admin")
    s=socket.create_connection(("127.0.0.1",port))
    cmd(s,"AUTH",f"t{i}",f"p{i}")
    t=time.perf_counter(); r=cmd(s,"FUNCTION","LOAD",lib); times.append(time.perf_counter()-t)
    s.close()
    if (i+1)%250==0:
        w=sorted(times[-250:]); print(i+1, "median %.2f ms p90 %.2f ms"%(w[125]*1e3, w[225]*1e3), r[:20], flush=True)
