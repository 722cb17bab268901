package sunrpc

import (
	"strconv"
	"strings"

	"github.com/smallpot/smallpot/internal/event"
)

// Program numbers Smallpot knows by name: the classic /etc/rpc names, and
// the Solaris daemons the exploits of the 1990s and 2000s went after
// (rpc.statd, rpc.cmsd, rpc.ttdbserverd, sadmind, snmpXdmid).
const (
	progPortmapper = 100000
	progNFS        = 100003
	progMountd     = 100005
	progNlockmgr   = 100021
	progStatus     = 100024
)

var programNames = map[uint32]string{
	100000: "portmapper",
	100001: "rstatd",
	100002: "rusersd",
	100003: "nfs",
	100004: "ypserv",
	100005: "mountd",
	100007: "ypbind",
	100008: "walld",
	100009: "yppasswdd",
	100010: "etherstatd",
	100011: "rquotad",
	100012: "sprayd",
	100017: "rexd",
	100020: "llockmgr",
	100021: "nlockmgr",
	100023: "statmon",
	100024: "status",
	100026: "bootparam",
	100028: "ypupdated",
	100029: "keyserv",
	100068: "cmsd",
	100069: "ypxfrd",
	100083: "ttdbserverd",
	100099: "autofsd",
	100133: "nsm_addrand",
	100221: "kcms_server",
	100227: "nfs_acl",
	100229: "metad",
	100230: "metamhd",
	100232: "sadmind",
	100235: "cachefsd",
	100242: "rpc.metamedd",
	100249: "snmpXdmid",
	100422: "mdcommd",
	150001: "pcnfsd",
	300019: "amd",
	351455: "mapsvc",
	391002: "sgi_fam",
}

// programName names a program number, "" when unknown.
func programName(prog uint32) string { return programNames[prog] }

var (
	pmapV2Procs = []string{"NULL", "SET", "UNSET", "GETPORT", "DUMP", "CALLIT"}
	rpcbV3Procs = []string{"NULL", "SET", "UNSET", "GETADDR", "DUMP", "CALLIT", "GETTIME",
		"UADDR2TADDR", "TADDR2UADDR"}
	rpcbV4Procs = []string{"NULL", "SET", "UNSET", "GETADDR", "DUMP", "BCAST", "GETTIME",
		"UADDR2TADDR", "TADDR2UADDR", "GETVERSADDR", "INDIRECT", "GETADDRLIST", "GETSTAT"}
	statusProcs = []string{"NULL", "STAT", "MON", "UNMON", "UNMON_ALL", "SIMU_CRASH", "NOTIFY"}
	mountProcs  = []string{"NULL", "MNT", "DUMP", "UMNT", "UMNTALL", "EXPORT", "EXPORTALL", "PATHCONF"}
	nfs2Procs   = []string{"NULL", "GETATTR", "SETATTR", "ROOT", "LOOKUP", "READLINK", "READ",
		"WRITECACHE", "WRITE", "CREATE", "REMOVE", "RENAME", "LINK", "SYMLINK", "MKDIR", "RMDIR",
		"READDIR", "STATFS"}
	nfs3Procs = []string{"NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ",
		"WRITE", "CREATE", "MKDIR", "SYMLINK", "MKNOD", "REMOVE", "RMDIR", "RENAME", "LINK",
		"READDIR", "READDIRPLUS", "FSSTAT", "FSINFO", "PATHCONF", "COMMIT"}
	nlmProcs = []string{"NULL", "TEST", "LOCK", "CANCEL", "UNLOCK", "GRANTED", "TEST_MSG",
		"LOCK_MSG", "CANCEL_MSG", "UNLOCK_MSG", "GRANTED_MSG", "TEST_RES", "LOCK_RES",
		"CANCEL_RES", "UNLOCK_RES", "GRANTED_RES", "", "", "", "", "SHARE", "UNSHARE",
		"NM_LOCK", "FREE_ALL"}
)

// procedureName names a procedure, "" when unknown. Procedure 0 of every
// program is NULL by convention.
func procedureName(prog, vers, proc uint32) string {
	var names []string
	switch prog {
	case progPortmapper:
		switch vers {
		case 2:
			names = pmapV2Procs
		case 3:
			names = rpcbV3Procs
		case 4:
			names = rpcbV4Procs
		}
	case progStatus:
		names = statusProcs
	case progMountd:
		names = mountProcs
	case progNFS:
		switch vers {
		case 2:
			names = nfs2Procs
		case 3:
			names = nfs3Procs
		}
	case progNlockmgr:
		names = nlmProcs
	}
	if int64(proc) < int64(len(names)) {
		return names[proc]
	}
	if proc == 0 {
		return "NULL"
	}
	return ""
}

// Bounds of the strings decoded from other programs' arguments
// (SM_MAXSTRLEN, MNTPATHLEN).
const (
	maxMonName = 1024
	maxDirPath = 1024
	// maxArgValue bounds an argument value in an event; the raw bytes
	// are kept beside it.
	maxArgValue = 512
)

// otherArgs decodes, best effort, the arguments of calls to programs the
// portmapper does not serve but attackers aim at: rpc.statd's monitor
// names (the format-string exploits) and mountd's paths. It returns nil
// when the procedure is not one it knows or the bytes do not decode.
func otherArgs(prog, proc uint32, args []byte) []event.RPCArg {
	r := newXDR(args)
	var out []event.RPCArg
	switch prog {
	case progStatus:
		switch proc {
		case 1, 2, 3, 6: // STAT, MON, UNMON: mon_name first; NOTIFY: stat_chge
			out = append(out, arg("mon_name", r.string(maxMonName)))
			if proc == 2 {
				out = append(out, arg("my_name", r.string(maxMonName)))
			}
		case 4: // UNMON_ALL: my_id
			out = append(out, arg("my_name", r.string(maxMonName)))
		}
	case progMountd:
		switch proc {
		case 1, 3: // MNT, UMNT
			out = append(out, arg("dirpath", r.string(maxDirPath)))
		}
	}
	if r.err != nil {
		return nil
	}
	return out
}

func arg(name, value string) event.RPCArg {
	return event.RPCArg{Name: name, Value: printable(value, maxArgValue)}
}

func argUint(name string, v uint32) event.RPCArg {
	return event.RPCArg{Name: name, Value: strconv.FormatUint(uint64(v), 10)}
}

// printable returns s with every byte that is not printable ASCII, and
// the backslash, written as \xNN, cut at limit bytes of input (and then
// ending in "...").
func printable(s string, limit int) string {
	cut := false
	if len(s) > limit {
		s, cut = s[:limit], true
	}
	clean := !cut
	for i := 0; i < len(s) && clean; i++ {
		clean = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\'
	}
	if clean {
		return s
	}
	var b strings.Builder
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '\\' {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	if cut {
		b.WriteString("...")
	}
	return b.String()
}

// protoName names a portmapper protocol number.
func protoName(p uint32) string {
	switch p {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	}
	return strconv.FormatUint(uint64(p), 10)
}
