package ftp

import (
	"fmt"
	"slices"
	"strings"
)

// The two personas differ in their command tables and in every reply's
// wording; what they do with files and data connections is shared.

// argKind is what IIS requires of a command's argument; a command given
// the wrong kind is a syntax error.
type argKind int

const (
	argNone argKind = iota
	argOptional
	argRequired
)

// spec is one command of a persona's table.
type spec struct {
	run func(*conn, Command)
	arg argKind
	// pre allows the command before login (IIS).
	pre bool
	// help is IIS's "HELP VERB" syntax text.
	help string
	// ext marks a command that answers only when the persona enables it
	// (EPSV, EPRT, FEAT).
	ext string
}

// The tables are filled in init: their commands (HELP) read them.
var iisCommands, busyboxCommands map[string]spec

func init() {
	initIIS()
	initBusyBox()
}

// initIIS fills Microsoft FTP Service 5.0's table.
func initIIS() {
	iisCommands = map[string]spec{
		"ABOR": {run: (*conn).cmdABOR, arg: argNone, help: "(abort operation)"},
		"ACCT": {run: (*conn).cmdNotImplemented, arg: argRequired, help: "(specify account)"},
		"ALLO": {run: (*conn).cmdALLO, arg: argRequired, help: "(allocate storage vacuously)"},
		"APPE": {run: (*conn).cmdAPPE, arg: argRequired, help: "<sp> file-name"},
		"CDUP": {run: (*conn).cmdCDUP, arg: argNone, help: "change to parent directory"},
		"CWD":  {run: (*conn).cmdCWD, arg: argOptional, help: "[ <sp> directory-name ]"},
		"DELE": {run: (*conn).cmdDELE, arg: argRequired, help: "<sp> file-name"},
		"EPRT": {run: (*conn).cmdEPRT, arg: argRequired, help: "<sp> |af|address|port|", ext: "EPRT"},
		"EPSV": {run: (*conn).cmdEPSV, arg: argOptional, help: "[ <sp> af|ALL ]", ext: "EPSV"},
		"FEAT": {run: (*conn).cmdFEAT, arg: argNone, pre: true, help: "(list features)", ext: "FEAT"},
		"HELP": {run: (*conn).cmdHELP, arg: argOptional, pre: true, help: "[ <sp> <string>]"},
		"LIST": {run: (*conn).cmdLIST, arg: argOptional, help: "[ <sp> path-name ]"},
		"MDTM": {run: (*conn).cmdMDTM, arg: argRequired, help: "<sp> path-name"},
		"MKD":  {run: (*conn).cmdMKD, arg: argRequired, help: "<sp> path-name"},
		"MODE": {run: (*conn).cmdMODE, arg: argRequired, pre: true, help: "(specify transfer mode)"},
		"NLST": {run: (*conn).cmdNLST, arg: argOptional, help: "[ <sp> path-name ]"},
		"NOOP": {run: (*conn).cmdNOOP, arg: argNone, pre: true, help: ""},
		"PASS": {run: (*conn).cmdPASS, arg: argOptional, help: "<sp> password"},
		"PASV": {run: (*conn).cmdPASV, arg: argNone, help: "(set server in passive mode)"},
		"PORT": {run: (*conn).cmdPORT, arg: argRequired, pre: true, help: "<sp> b0,b1,b2,b3,b4,b5"},
		"PWD":  {run: (*conn).cmdPWD, arg: argNone, help: "(return current directory)"},
		"QUIT": {run: (*conn).cmdQUIT, arg: argNone, pre: true, help: "(terminate service)"},
		"REIN": {run: (*conn).cmdREIN, arg: argNone, help: "(reinitialize server state)"},
		"REST": {run: (*conn).cmdREST, arg: argRequired, help: "<sp> marker"},
		"RETR": {run: (*conn).cmdRETR, arg: argRequired, help: "<sp> file-name"},
		"RMD":  {run: (*conn).cmdRMD, arg: argRequired, help: "<sp> path-name"},
		"RNFR": {run: (*conn).cmdRNFR, arg: argRequired, help: "<sp> file-name"},
		"RNTO": {run: (*conn).cmdRNTO, arg: argRequired, help: "<sp> file-name"},
		"SITE": {run: (*conn).cmdSITE, arg: argOptional, help: "(site-specific commands)"},
		"SIZE": {run: (*conn).cmdSIZE, arg: argRequired, help: "<sp> path-name"},
		"SMNT": {run: (*conn).cmdNotImplemented, arg: argRequired, help: "<sp> pathname"},
		"STAT": {run: (*conn).cmdSTAT, arg: argOptional, help: "(get server status)"},
		"STOR": {run: (*conn).cmdSTOR, arg: argRequired, help: "<sp> file-name"},
		"STOU": {run: (*conn).cmdSTOU, arg: argNone, help: "(store unique file)"},
		"STRU": {run: (*conn).cmdSTRU, arg: argRequired, pre: true, help: "(specify file structure)"},
		"SYST": {run: (*conn).cmdSYST, arg: argNone, help: "(get operating system type)"},
		"TYPE": {run: (*conn).cmdTYPE, arg: argRequired, pre: true, help: "<sp> [ A | E | I | L ]"},
		"USER": {run: (*conn).cmdUSER, arg: argRequired, pre: true, help: "<sp> username"},
		"XCUP": {run: (*conn).cmdCDUP, arg: argNone, help: "change to parent directory"},
		"XCWD": {run: (*conn).cmdCWD, arg: argOptional, help: "[ <sp> directory-name ]"},
		"XMKD": {run: (*conn).cmdMKD, arg: argRequired, help: "<sp> path-name"},
		"XPWD": {run: (*conn).cmdPWD, arg: argNone, help: "(return current directory)"},
		"XRMD": {run: (*conn).cmdRMD, arg: argRequired, help: "<sp> path-name"},
	}
}

// iisSite is IIS's SITE table, with the width HELP pads names to.
var iisSite = []string{"DIRSTYLE", "CKM", "HELP"}

// initBusyBox fills BusyBox ftpd's table once logged in (built with write
// support). Before login it knows USER, PASS and QUIT only.
func initBusyBox() {
	busyboxCommands = map[string]spec{
		"ALLO": {run: (*conn).cmdALLO},
		"APPE": {run: (*conn).cmdAPPE},
		"CDUP": {run: (*conn).cmdCDUP},
		"CWD":  {run: (*conn).cmdCWD},
		"DELE": {run: (*conn).cmdDELE},
		"EPRT": {run: (*conn).cmdEPRT, ext: "EPRT"},
		"EPSV": {run: (*conn).cmdEPSV, ext: "EPSV"},
		"FEAT": {run: (*conn).cmdFEAT, ext: "FEAT"},
		"HELP": {run: (*conn).cmdHELP},
		"LIST": {run: (*conn).cmdLIST},
		"MDTM": {run: (*conn).cmdMDTM},
		"MKD":  {run: (*conn).cmdMKD},
		"MODE": {run: (*conn).cmdMODE},
		"NLST": {run: (*conn).cmdNLST},
		"NOOP": {run: (*conn).cmdNOOP},
		"PASS": {run: (*conn).cmdPASS},
		"PASV": {run: (*conn).cmdPASV},
		"PORT": {run: (*conn).cmdPORT},
		"PWD":  {run: (*conn).cmdPWD},
		"QUIT": {run: (*conn).cmdQUIT},
		"REST": {run: (*conn).cmdREST},
		"RETR": {run: (*conn).cmdRETR},
		"RMD":  {run: (*conn).cmdRMD},
		"RNFR": {run: (*conn).cmdRNFR},
		"RNTO": {run: (*conn).cmdRNTO},
		"SIZE": {run: (*conn).cmdSIZE},
		"STAT": {run: (*conn).cmdSTAT},
		"STOR": {run: (*conn).cmdSTOR},
		"STOU": {run: (*conn).cmdSTOU},
		"STRU": {run: (*conn).cmdSTRU},
		"SYST": {run: (*conn).cmdSYST},
		"TYPE": {run: (*conn).cmdTYPE},
		"USER": {run: (*conn).cmdUSER},
		"XPWD": {run: (*conn).cmdPWD},
	}
}

// enabled reports whether an extension command answers for persona p.
func (sp spec) enabled(p *Persona) bool {
	switch sp.ext {
	case "EPSV":
		return p.EPSV
	case "EPRT":
		return p.EPRT
	case "FEAT":
		return p.FEAT
	}
	return true
}

// iisHelp is IIS's answer to HELP without argument: every command it
// knows, one a line.
func iisHelp(p *Persona) []string {
	var verbs []string
	for v, sp := range iisCommands {
		if sp.enabled(p) {
			verbs = append(verbs, v)
		}
	}
	slices.Sort(verbs)
	lines := []string{"214-The following  commands are recognized(* ==>'s unimplemented)."}
	for _, v := range verbs {
		lines = append(lines, fmt.Sprintf("   %-4s ", v))
	}
	return append(lines, "214  HELP command successful.")
}

func iisSiteHelp() []string {
	lines := []string{"214-The following SITE commands are recognized(* ==>'s unimplemented)."}
	for _, v := range iisSite {
		lines = append(lines, fmt.Sprintf("   %-8s ", v))
	}
	return append(lines, "214  HELP command successful.")
}

// features is FEAT's (and BusyBox's HELP) list.
func features(p *Persona, iis bool) []string {
	if iis {
		f := []string{"SIZE", "MDTM"}
		if p.EPSV {
			f = append(f, "EPSV")
		}
		if p.EPRT {
			f = append(f, "EPRT")
		}
		return f
	}
	var f []string
	if p.EPSV {
		f = append(f, "EPSV")
	}
	if p.EPRT {
		f = append(f, "EPRT")
	}
	return append(f, "PASV", "REST STREAM", "MDTM", "SIZE")
}

// Win32 error texts IIS appends to "550 name: ", with the space its
// message table leaves after them.
var iisErrText = map[fsErr]string{
	errNotFound: "The system cannot find the file specified. ",
	errNoPath:   "The system cannot find the path specified. ",
	errDenied:   "Access is denied. ",
	errExists:   "Cannot create a file when that file already exists. ",
	errNotEmpty: "The directory is not empty. ",
	errFull:     "There is not enough space on the disk. ",
	errBusy:     "The process cannot access the file because it is being used by another process. ",
}

// errNotDir is CWD into a file.
const iisNotDir = "The directory name is invalid. "

// greeting is the 220 line.
func greeting(p *Persona) string {
	switch {
	case p.Banner != "":
		return p.Banner
	case p.Kind == KindBusyBox:
		return "Operation successful"
	}
	return p.Hostname + " Microsoft FTP Service (Version " + p.Version + ")."
}

// bbOK and bbErr are BusyBox's two canned texts.
const (
	bbOK  = "Operation successful"
	bbErr = "Error"
)

// quotePWD writes PWD's path: BusyBox doubles quotes in it (RFC 959),
// IIS does not.
func quotePWD(p string, iis bool) string {
	if iis {
		return `"` + p + `"`
	}
	return `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
}
