package pop3

import (
	"fmt"
	"strings"
)

// replies are the texts one product answers with. Those with a verb
// (%d, %s) take the argument named in the comment.
type replies struct {
	capaHead      string
	capa          []string // before login; a SASL line is added when mechanisms are listed
	capaAuthed    []string // after login
	user          string
	userNoArg     string
	passNoUser    string
	loginOK       string
	loginFail     string
	apop          string
	authList      string // first line of AUTH without a mechanism
	authMech      string
	authAborted   string
	authBadBase64 string
	stat          string // %d messages, %d octets
	listHead      string // %d messages, %d octets
	listOne       string // %d number, %d octets
	uidlHead      string
	uidlOne       string // %d number, %s uid
	retr          string // %d octets
	top           string
	dele          string
	rset          string
	noop          string
	quit          string // before login; %s version
	quitAuthed    string // %s version
	quitDeleted   string // %s version
	unknown       string // before login
	unknownAuthed string // %s the command
	noSuchMsg     string // %d number
	deleted       string // %d number
	badNumber     string // %s the argument
	badLines      string // %s the argument
	stls          string
	lineTooLong   string
	closing       string
}

var exchangeReplies = replies{
	capaHead:      "+OK Capability list follows",
	capa:          []string{"TOP", "USER", "PIPELINING", "EXPIRE NEVER", "UIDL"},
	capaAuthed:    []string{"TOP", "USER", "PIPELINING", "EXPIRE NEVER", "UIDL"},
	user:          "+OK",
	userNoArg:     "-ERR Protocol error.",
	passNoUser:    "-ERR Protocol error.",
	loginOK:       "+OK User successfully logged on.",
	loginFail:     "-ERR Logon failure: unknown user name or bad password.",
	apop:          "-ERR Protocol error.",
	authList:      "+OK The operation completed successfully.",
	authMech:      "-ERR The specified authentication package is not supported.",
	authAborted:   "-ERR Protocol error.",
	authBadBase64: "-ERR Protocol error.",
	stat:          "+OK %d %d",
	listHead:      "+OK %d %d",
	listOne:       "+OK %d %d",
	uidlHead:      "+OK",
	uidlOne:       "+OK %d %s",
	retr:          "+OK",
	top:           "+OK",
	dele:          "+OK",
	rset:          "+OK",
	noop:          "+OK",
	quit:          "+OK Microsoft Exchange 2000 POP3 server version %s signing off.",
	quitAuthed:    "+OK Microsoft Exchange 2000 POP3 server version %s signing off.",
	quitDeleted:   "+OK Microsoft Exchange 2000 POP3 server version %s signing off.",
	unknown:       "-ERR Protocol error.",
	unknownAuthed: "-ERR Protocol error.",
	noSuchMsg:     "-ERR The specified message is out of range.",
	deleted:       "-ERR The requested message is no longer available; it may have been deleted.",
	badNumber:     "-ERR Protocol error.",
	badLines:      "-ERR Protocol error.",
	stls:          "-ERR Protocol error.",
	lineTooLong:   "-ERR Protocol error.",
	closing:       "-ERR Protocol error.",
}

var dovecotReplies = replies{
	capaHead:      "+OK",
	capa:          []string{"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER"},
	capaAuthed:    []string{"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"},
	user:          "+OK",
	userNoArg:     "-ERR No username given.",
	passNoUser:    "-ERR No username given.",
	loginOK:       "+OK Logged in.",
	loginFail:     "-ERR [AUTH] Authentication failed.",
	apop:          "-ERR APOP not enabled.",
	authList:      "+OK",
	authMech:      "-ERR Unsupported authentication mechanism.",
	authAborted:   "-ERR Authentication aborted by client.",
	authBadBase64: "-ERR Invalid base64 data in continued response",
	stat:          "+OK %d %d",
	listHead:      "+OK %d messages:",
	listOne:       "+OK %d %d",
	uidlHead:      "+OK",
	uidlOne:       "+OK %d %s",
	retr:          "+OK %d octets",
	top:           "+OK",
	dele:          "+OK Marked to be deleted.",
	rset:          "+OK",
	noop:          "+OK",
	quit:          "+OK Logging out",
	quitAuthed:    "+OK Logging out.",
	quitDeleted:   "+OK Logging out, messages deleted.",
	unknown:       "-ERR Unknown command.",
	unknownAuthed: "-ERR Unknown command: %s",
	noSuchMsg:     "-ERR There's no message %d.",
	deleted:       "-ERR Message is deleted.",
	badNumber:     "-ERR Invalid message number: %s",
	badLines:      "-ERR Invalid number of lines: %s",
	stls:          "-ERR TLS support isn't enabled.",
	lineTooLong:   "-ERR Input line too long.",
	closing:       "-ERR Too many invalid commands.",
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
