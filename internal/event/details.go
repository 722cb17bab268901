package event

// Connect records an accepted TCP connection.
type Connect struct {
	// Listener is the address:port the connection arrived on as
	// configured (it differs from dst when bound to all interfaces).
	Listener string `json:"listener,omitempty"`
}

// Kind implements Detail.
func (*Connect) Kind() Kind { return KindConnect }

// Close reasons.
const (
	ReasonEOF         = "eof"          // the peer closed
	ReasonServer      = "server"       // the service ended the session
	ReasonIdle        = "idle_timeout" // nothing arrived within the idle timeout
	ReasonMaxDuration = "max_duration" // the session outlived its maximum
	ReasonBudget      = "byte_budget"  // a byte budget was exhausted
	ReasonShutdown    = "shutdown"     // Smallpot was stopping
	ReasonPanic       = "panic"        // the service failed; the session was cut
	ReasonError       = "error"        // a network error
)

// Close records the end of a TCP session.
type Close struct {
	DurationMS int64  `json:"duration_ms"`
	BytesIn    int64  `json:"bytes_in"`
	BytesOut   int64  `json:"bytes_out"`
	Reason     string `json:"reason"`
	// TranscriptIn and TranscriptOut count the bytes kept in the session
	// transcript; when smaller than BytesIn/BytesOut the transcript was cut.
	TranscriptIn  int64 `json:"transcript_in"`
	TranscriptOut int64 `json:"transcript_out"`

	// Transcript is the session's bounded transcript in the framing of
	// package transcript; stored by the database, not part of the JSON.
	Transcript []byte `json:"-"`
}

// Kind implements Detail.
func (*Close) Kind() Kind { return KindClose }

// Blob implements Blobber.
func (c *Close) Blob() []byte { return c.Transcript }

// Header is one request header, kept in arrival order.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Request records one application request (an HTTP request, an RPC call,
// a SOAP action, a datagram query).
type Request struct {
	Method    string   `json:"method,omitempty"`
	URI       string   `json:"uri,omitempty"`  // as sent
	Path      string   `json:"path,omitempty"` // decoded as the persona decodes it
	Query     string   `json:"query,omitempty"`
	Version   string   `json:"version,omitempty"`
	Headers   []Header `json:"headers,omitempty"`
	Host      string   `json:"host,omitempty"`
	UserAgent string   `json:"user_agent,omitempty"`
	BodyLen   int64    `json:"body_len"`
	Body      []byte   `json:"body,omitempty"`      // base64 in JSON, bounded
	Status    int      `json:"status,omitempty"`    // the reply given
	Malformed string   `json:"malformed,omitempty"` // why the request could not be parsed
	Truncated bool     `json:"truncated,omitempty"` // the request exceeded the capture cap
	Sample    string   `json:"sample,omitempty"`    // SHA-256 of the whole request kept as a sample
	Action    string   `json:"action,omitempty"`    // what the persona did (e.g. "cgi:cmd.exe")
	// Args are the request's decoded arguments, in order, where it
	// carries named ones (a SOAP action's), bounded.
	Args []Header `json:"args,omitempty"`
}

// Kind implements Detail.
func (*Request) Kind() Kind { return KindRequest }

// Login records one authentication attempt.
type Login struct {
	User     string `json:"user"`
	Password string `json:"password,omitempty"`
	Method   string `json:"method,omitempty"` // password, publickey, apop, plain, ...
	Key      string `json:"key,omitempty"`    // public key fingerprint
	Success  bool   `json:"success"`
}

// Kind implements Detail.
func (*Login) Kind() Kind { return KindLogin }

// Command records one command line given to a shell or protocol.
type Command struct {
	Line   string `json:"line"`
	Shell  string `json:"shell,omitempty"`  // dialect: cmd, busybox, ftp, smtp...
	Output string `json:"output,omitempty"` // what the fake answered, bounded
	Known  bool   `json:"known"`
	// Truncated: the line, or the transfer it started, was cut at its
	// bound (length, size or time).
	Truncated bool `json:"truncated,omitempty"`
}

// Kind implements Detail.
func (*Command) Kind() Kind { return KindCommand }

// Payload records raw bytes that arrived outside any parsed request: the
// first bytes of a connection to the generic service, a datagram.
type Payload struct {
	Len       int64  `json:"len"`
	Data      []byte `json:"data"` // base64 in JSON, bounded
	Truncated bool   `json:"truncated,omitempty"`
	Sample    string `json:"sample,omitempty"`
}

// Kind implements Detail.
func (*Payload) Kind() Kind { return KindPayload }

// Upload records a file sent to the honeypot (FTP STOR, a mail
// attachment, a dropped binary). Name is the client's name for it, kept as
// data only.
type Upload struct {
	Name      string `json:"name,omitempty"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Truncated bool   `json:"truncated,omitempty"`
	Via       string `json:"via,omitempty"` // stor, attachment, echo, ...
}

// Kind implements Detail.
func (*Upload) Kind() Kind { return KindUpload }

// Download records a fetch the attacker asked for (a URL in a wget
// command, a tftp GET): an intent, not a fetch.
type Download struct {
	URL      string `json:"url"`
	Protocol string `json:"protocol,omitempty"` // http, https, ftp, tftp
	Host     string `json:"host,omitempty"`
	Path     string `json:"path,omitempty"`
	Command  string `json:"command,omitempty"` // the line it came from
}

// Kind implements Detail.
func (*Download) Kind() Kind { return KindDownload }

// Sample records bytes kept in the sample store.
type Sample struct {
	SHA256 string `json:"sha256"`
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	Size   int64  `json:"size"`
	Source string `json:"source"`         // what the bytes were: http.request, ftp.stor, ...
	Name   string `json:"name,omitempty"` // the client's name for it, as data
	New    bool   `json:"new"`            // first time these bytes were stored
}

// Kind implements Detail.
func (*Sample) Kind() Kind { return KindSample }

// Mail outcomes.
const (
	MailQueued   = "queued"    // accepted and answered as delivered (it is only kept)
	MailTooLarge = "too_large" // over the size cap: refused, its first bytes kept
	MailNoData   = "no_data"   // the transaction ended before a message was sent
	MailAborted  = "aborted"   // the connection ended inside the message
)

// Mail records one mail transaction (SMTP MAIL FROM, RCPT TO, DATA): the
// envelope, the message's top-level headers and what became of it.
// Nothing is ever relayed; a message is only kept.
type Mail struct {
	Helo         string   `json:"helo,omitempty"`          // the name given in HELO/EHLO
	Auth         string   `json:"auth,omitempty"`          // the user the session authenticated as
	From         string   `json:"from"`                    // MAIL FROM address ("" for <>)
	Rcpts        []string `json:"rcpts"`                   // RCPT TO addresses accepted, in order
	RelayAttempt bool     `json:"relay_attempt,omitempty"` // a recipient lies outside the persona's domains
	Subject      string   `json:"subject,omitempty"`       // decoded
	Headers      []Header `json:"headers,omitempty"`       // top-level headers, bounded
	Size         int64    `json:"size"`                    // message bytes received
	Truncated    bool     `json:"truncated,omitempty"`     // cut at the size cap
	Result       string   `json:"result"`                  // queued, too_large, no_data, aborted
	QueueID      string   `json:"queue_id,omitempty"`      // the id the persona answered with
	Attachments  []string `json:"attachments,omitempty"`   // SHA-256 of each attachment kept
	MIMECut      []string `json:"mime_cut,omitempty"`      // MIME bounds hit while decoding
	Sample       string   `json:"sample,omitempty"`        // SHA-256 of the message kept
}

// Kind implements Detail.
func (*Mail) Kind() Kind { return KindMail }

// RPCArg is one decoded argument of an RPC call.
type RPCArg struct {
	Name  string `json:"name"`
	Value string `json:"value"` // bytes that are not printable ASCII as \xNN
}

// RPC records one ONC RPC (Sun RPC) call: to the portmapper, or to any
// other program that arrived on its port.
type RPC struct {
	XID           uint32   `json:"xid"`
	Program       uint32   `json:"program"`
	ProgramName   string   `json:"program_name,omitempty"`
	Version       uint32   `json:"version"`
	Procedure     uint32   `json:"procedure"`
	ProcedureName string   `json:"procedure_name,omitempty"`
	Auth          string   `json:"auth,omitempty"`     // credential flavour: none, unix, dh, ...
	Machine       string   `json:"machine,omitempty"`  // AUTH_UNIX machine name, as sent
	UID           *uint32  `json:"uid,omitempty"`      // AUTH_UNIX
	GID           *uint32  `json:"gid,omitempty"`      // AUTH_UNIX
	Args          []RPCArg `json:"args,omitempty"`     // decoded arguments, in order
	ArgsLen       int64    `json:"args_len"`           // argument bytes received
	RawArgs       []byte   `json:"raw_args,omitempty"` // argument bytes not decoded, bounded
	Reply         string   `json:"reply"`              // what was answered; "none" for silence
	Result        string   `json:"result,omitempty"`   // the answer's content, summed up
	Refused       string   `json:"refused,omitempty"`  // UDP reply refused: too_large, rate_limited
	Malformed     string   `json:"malformed,omitempty"`
	Sample        string   `json:"sample,omitempty"` // SHA-256 of the call kept as a sample
}

// Kind implements Detail.
func (*RPC) Kind() Kind { return KindRPC }

// Detection engines.
const (
	EngineRules = "rules" // Smallpot's own rule files (docs/rules.md)
	EngineYARA  = "yara"  // a user's YARA rule on a sample
)

// DetectionMatch is one thing a rule matched: the field and, bounded,
// what it held there (bytes that are not printable ASCII as \xNN).
type DetectionMatch struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Detection labels another event (Of) with what the classification
// stage recognised in it: a family and variant, an exploit and its CVE or
// Microsoft bulletin. It is emitted by the analyzer, never by a service,
// and carries the envelope (session, addresses) of the event it labels.
type Detection struct {
	Rule     string           `json:"rule"`   // the rule's id (a YARA rule: file:rule)
	Engine   string           `json:"engine"` // rules, yara
	Title    string           `json:"title,omitempty"`
	Family   string           `json:"family,omitempty"`
	Variant  string           `json:"variant,omitempty"`
	Exploit  string           `json:"exploit,omitempty"`
	CVE      []string         `json:"cve,omitempty"`
	Bulletin string           `json:"bulletin,omitempty"` // Microsoft security bulletin, MS01-033
	Severity string           `json:"severity"`           // info, low, medium, high, critical
	Scope    string           `json:"scope,omitempty"`    // event, session, source
	Count    int              `json:"count,omitempty"`    // matching events seen when a threshold rule fired
	Of       string           `json:"of"`                 // id of the event labelled
	OfKind   Kind             `json:"of_kind"`
	Sample   string           `json:"sample,omitempty"` // SHA-256 of the sample involved
	Matched  []DetectionMatch `json:"matched,omitempty"`
}

// Kind implements Detail.
func (*Detection) Kind() Kind { return KindDetection }

// SSH records how an SSH client introduced itself: its identification
// string and the algorithm lists of its key exchange offer
// (SSH_MSG_KEXINIT), with their HASSH fingerprint.
type SSH struct {
	ClientVersion string `json:"client_version"` // as sent, without CR LF
	// HASSH is the MD5 (hex) of HASSHAlgorithms: the client's kex,
	// cipher, MAC and compression lists (client to server), joined by ';'.
	HASSH           string   `json:"hassh,omitempty"`
	HASSHAlgorithms string   `json:"hassh_algorithms,omitempty"`
	Kex             []string `json:"kex,omitempty"`
	HostKeys        []string `json:"host_keys,omitempty"`
	CiphersC2S      []string `json:"ciphers_c2s,omitempty"`
	CiphersS2C      []string `json:"ciphers_s2c,omitempty"`
	MACsC2S         []string `json:"macs_c2s,omitempty"`
	MACsS2C         []string `json:"macs_s2c,omitempty"`
	CompressionC2S  []string `json:"compression_c2s,omitempty"`
	CompressionS2C  []string `json:"compression_s2c,omitempty"`
	Malformed       string   `json:"malformed,omitempty"` // why the offer could not be read
}

// Kind implements Detail.
func (*SSH) Kind() Kind { return KindSSH }

// Fetch outcomes.
const (
	FetchOK      = "ok"      // the file was fetched and kept as a sample
	FetchRefused = "refused" // the target is not allowed (a private address...): nothing was sent
	FetchFailed  = "failed"  // the fetch was tried and did not succeed
)

// Fetch records what the opt-in downloader did with a file a session
// named (a download intent, a URL or a tftp command line): it carries the
// envelope of the event that named it, so the sample is linked to that
// session. It is emitted by the downloader, never by a service.
type Fetch struct {
	URL        string `json:"url"`
	Protocol   string `json:"protocol"`            // http, https, ftp, tftp
	Status     string `json:"status"`              // ok, refused, failed
	Reason     string `json:"reason,omitempty"`    // why it was refused or failed
	Address    string `json:"address,omitempty"`   // the address:port last dialled
	FinalURL   string `json:"final_url,omitempty"` // where redirects ended, if elsewhere
	Redirects  int    `json:"redirects,omitempty"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256,omitempty"` // the sample kept
	DurationMS int64  `json:"duration_ms"`
	Of         string `json:"of,omitempty"` // id of the event that named the file
}

// Kind implements Detail.
func (*Fetch) Kind() Kind { return KindFetch }

// Alert types.
const (
	AlertNewHash    = "new_hash"    // a sample never seen before
	AlertNewVariant = "new_variant" // a new sample close to a known family's
	AlertNewShape   = "new_shape"   // a probe of a shape never seen on this sensor
)

// Relative is a sample whose fuzzy hashes are close to another's.
type Relative struct {
	SHA256  string `json:"sha256"`
	Family  string `json:"family,omitempty"`
	Variant string `json:"variant,omitempty"`
	SSDeep  int    `json:"ssdeep"`         // ssdeep score, 0 to 100
	TLSH    *int   `json:"tlsh,omitempty"` // TLSH distance; absent when either has no digest
	// Seed: a reference sample built into Smallpot or given in the
	// configuration, not one this sensor captured.
	Seed bool `json:"seed,omitempty"`
}

// Alert says something new arrived: a sample never seen (new_hash), a
// new variant of a known family (new_variant) or a probe of a new shape
// (new_shape). It is emitted by the novelty stage, never by a service, and
// carries the envelope (session, addresses) of the event it is about.
type Alert struct {
	Type     string `json:"type"`     // new_hash, new_variant, new_shape
	Severity string `json:"severity"` // low, medium, high
	Title    string `json:"title"`    // "new variant of CodeRed II (CodeRed.C)"
	Of       string `json:"of"`       // id of the event it is about
	OfKind   Kind   `json:"of_kind"`
	Sample   string `json:"sample,omitempty"` // SHA-256
	Size     int64  `json:"size,omitempty"`   // of the sample
	Source   string `json:"source,omitempty"` // of the sample: http.request, ftp.stor, ...
	SSDeep   string `json:"ssdeep,omitempty"` // the sample's ssdeep hash
	TLSH     string `json:"tlsh,omitempty"`   // the sample's TLSH digest
	// Family and Variant name the known family of a new variant: that of
	// its nearest labelled relative.
	Family    string     `json:"family,omitempty"`
	Variant   string     `json:"variant,omitempty"`
	Relatives []Relative `json:"relatives,omitempty"` // nearest first
	Shape     string     `json:"shape,omitempty"`     // new_shape: the probe's normalized form
}

// Kind implements Detail.
func (*Alert) Kind() Kind { return KindAlert }
