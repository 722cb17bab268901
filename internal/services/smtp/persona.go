package smtp

import (
	"fmt"
	"strconv"
	"strings"
)

// replies are the texts one product answers with. Those with %s take the
// argument named in the comment.
type replies struct {
	helo          string // %s host, %s client IP
	ehloFirst     string // %s host, %s client IP
	ehloLast      string // a closing line after the extensions ("" ends on the last extension)
	heloNoArg     string
	ehloNoArg     string // "" accepts EHLO without a name
	needHelo      string
	mailOK        string // %s address
	mailSyntax    string
	mailBadAddr   string
	nestedMail    string
	sizeExceeded  string
	needMail      string
	rcptOK        string // %s address
	rcptSyntax    string
	rcptBadAddr   string
	tooManyRcpts  string
	needRcpt      string
	dataGo        string
	queued        string // %s queue id
	tooBig        string
	rset          string
	noop          string
	vrfy          string // %s address
	vrfyNoArg     string
	help          string
	unknown       string
	quit          string // %s host (when the text has a %s)
	starttls      string
	lineTooLong   string
	authOK        string
	authFail      string
	authMech      string
	authNoArg     string
	authAlready   string
	authAborted   string
	authBadBase64 string
	closing       string // %s host (when the text has a %s)
	etrn          string // %s node
	etrnNoArg     string
	turn          string
	bdatOK        string // %d bytes
	bdatSyntax    string
}

var exchangeReplies = replies{
	helo:          "250 %s Hello [%s]",
	ehloFirst:     "250-%s Hello [%s]",
	ehloLast:      "250 OK",
	heloNoArg:     "501 5.5.4 Invalid Address",
	ehloNoArg:     "",
	needHelo:      "503 5.5.2 Send hello first",
	mailOK:        "250 2.1.0 %s....Sender OK",
	mailSyntax:    "501 5.5.4 Invalid Address",
	mailBadAddr:   "501 5.5.4 Invalid Address",
	nestedMail:    "503 5.5.2 Sender already specified",
	sizeExceeded:  "552 5.3.4 Message size exceeds fixed maximum message size",
	needMail:      "503 5.5.2 Need mail command.",
	rcptOK:        "250 2.1.5 %s ",
	rcptSyntax:    "501 5.5.4 Invalid Address",
	rcptBadAddr:   "501 5.5.4 Invalid Address",
	tooManyRcpts:  "452 4.5.3 Too many recipients",
	needRcpt:      "503 5.5.2 Need Rcpt command.",
	dataGo:        "354 Start mail input; end with <CRLF>.<CRLF>",
	queued:        "250 2.6.0 <%s> Queued mail for delivery",
	tooBig:        "552 5.3.4 Message size exceeds fixed maximum message size",
	rset:          "250 2.0.0 Resetting",
	noop:          "250 2.0.0 OK",
	vrfy:          "252 2.1.5 Cannot VRFY user, but will take message for <%s>",
	vrfyNoArg:     "501 5.5.4 Invalid Address",
	help:          "214-This server supports the following commands:\r\n214 HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH TURN ETRN BDAT VRFY",
	unknown:       "500 5.3.3 Unrecognized command",
	quit:          "221 2.0.0 %s Service closing transmission channel",
	starttls:      "554 5.7.3 Unable to initialize security subsystem",
	lineTooLong:   "500 5.5.1 Line too long",
	authOK:        "235 2.7.0 Authentication successful.",
	authFail:      "535 5.7.3 Authentication unsuccessful.",
	authMech:      "504 5.7.4 Unrecognized authentication type.",
	authNoArg:     "501 5.5.4 Invalid arguments",
	authAlready:   "503 5.5.2 Already authenticated",
	authAborted:   "501 5.7.0 Authentication aborted",
	authBadBase64: "501 5.5.4 Invalid arguments",
	closing:       "421 4.3.2 Service not available, closing transmission channel",
	etrn:          "250 2.0.0 Queuing for node %s started",
	etrnNoArg:     "501 5.5.4 Invalid arguments",
	turn:          "530 5.7.1 Client was not authenticated",
	bdatOK:        "250 2.0.0 %d bytes received",
	bdatSyntax:    "501 5.5.4 Invalid arguments",
}

var postfixReplies = replies{
	helo:          "250 %s",
	ehloFirst:     "250-%s",
	ehloLast:      "",
	heloNoArg:     "501 Syntax: HELO hostname",
	ehloNoArg:     "501 Syntax: EHLO hostname",
	needHelo:      "503 5.5.1 Error: send HELO/EHLO first",
	mailOK:        "250 2.1.0 Ok",
	mailSyntax:    "501 5.5.4 Syntax: MAIL FROM:<address>",
	mailBadAddr:   "501 5.1.7 Bad sender address syntax",
	nestedMail:    "503 5.5.1 Error: nested MAIL command",
	sizeExceeded:  "552 5.3.4 Message size exceeds fixed limit",
	needMail:      "503 5.5.1 Error: need MAIL command",
	rcptOK:        "250 2.1.5 Ok",
	rcptSyntax:    "501 5.5.4 Syntax: RCPT TO:<address>",
	rcptBadAddr:   "501 5.1.3 Bad recipient address syntax",
	tooManyRcpts:  "452 4.5.3 Error: too many recipients",
	needRcpt:      "503 5.5.1 Error: need RCPT command",
	dataGo:        "354 End data with <CR><LF>.<CR><LF>",
	queued:        "250 2.0.0 Ok: queued as %s",
	tooBig:        "552 5.3.4 Error: message file too big",
	rset:          "250 2.0.0 Ok",
	noop:          "250 2.0.0 Ok",
	vrfy:          "252 2.0.0 %s",
	vrfyNoArg:     "501 5.5.4 Syntax: VRFY address",
	help:          "502 5.5.2 Error: command not recognized",
	unknown:       "502 5.5.2 Error: command not recognized",
	quit:          "221 2.0.0 Bye",
	starttls:      "502 5.5.1 Error: command not implemented",
	lineTooLong:   "500 5.5.2 Error: line too long",
	authOK:        "235 2.7.0 Authentication successful",
	authFail:      "535 5.7.8 Error: authentication failed: authentication failure",
	authMech:      "535 5.7.8 Error: authentication failed: Invalid authentication mechanism",
	authNoArg:     "501 5.5.4 Syntax: AUTH mechanism",
	authAlready:   "503 5.5.1 Error: already authenticated",
	authAborted:   "501 5.7.0 Authentication aborted",
	authBadBase64: "501 5.5.2 Cannot decode response",
	closing:       "421 4.7.0 %s Error: too many errors",
	etrn:          "459 4.3.0 <%s>: service unavailable",
	etrnNoArg:     "500 Syntax: ETRN domain",
	turn:          "502 5.5.2 Error: command not recognized",
	bdatOK:        "250 2.0.0 Ok: %d bytes",
	bdatSyntax:    "501 5.5.4 Syntax: BDAT count [LAST]",
}

// fill puts args, in order, in the text's %s and %d verbs; a product
// whose text has fewer verbs than the arguments leaves the rest out.
func fill(text string, args ...any) string {
	var b strings.Builder
	for {
		i := strings.Index(text, "%")
		if i < 0 || i+1 >= len(text) || len(args) == 0 || (text[i+1] != 's' && text[i+1] != 'd') {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i])
		b.WriteString(fmt.Sprint(args[0]))
		text, args = text[i+2:], args[1:]
	}
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// exchangeQueueID is the id the Windows SMTP service gives a message:
// the computer name, thirteen letters and digits, a hexadecimal count,
// @ the host name.
func exchangeQueueID(host string, count uint64, rnd func() uint64) string {
	computer, _, _ := strings.Cut(host, ".")
	var b strings.Builder
	b.WriteString(strings.ToUpper(computer))
	for i := 0; i < 13; i++ {
		b.WriteByte(idAlphabet[rnd()%uint64(len(idAlphabet))])
	}
	h := strconv.FormatUint(count, 16)
	b.WriteString(strings.Repeat("0", max(0, 8-len(h))) + h)
	b.WriteString("@" + host)
	return b.String()
}

// postfixQueueID is a short Postfix queue id: eleven upper-case
// hexadecimal digits.
func postfixQueueID(rnd func() uint64) string {
	v := rnd()&(1<<44-1) | 1<<44
	return strings.ToUpper(strconv.FormatUint(v, 16))[1:]
}
