package http

import (
	"fmt"
	"html"
	"strings"
)

// crlf turns a page written with "\n" into the "\r\n" of files made on
// Windows.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// IIS 5.0's own short error bodies: a Win32 message in a fixed frame.
const (
	iisParamIncorrect = "<html><head><title>Error</title></head><body>The parameter is incorrect. </body></html>"
	iisCGIHead        = "<head><title>Error in CGI Application</title></head>\n" +
		"<body><h1>CGI Error</h1>The specified CGI application misbehaved by not returning a complete set of HTTP headers.  The headers it did return are:<p><p><pre>"
	iisCGITail = "</pre>"
)

// iisStart is the default page of a fresh IIS 5.0 site.
func iisStart(title string) string {
	return crlf(`<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN">
<html>
<head>
<meta HTTP-EQUIV="Content-Type" Content="text/html; charset=Windows-1252">
<title id="titletext">` + title + `</title>
</head>
<body bgcolor="white">
<table width="500" border="0" cellspacing="10">
<tr>
<td ID="tableProps" width="70" valign="top" align="center">
<img ID="pagerrorImg" SRC="pagerror.gif" width="36" height="48">
</td>
<td ID="tablePropsWidth" width="400">
<h1 ID="errortype" style="font:14pt/16pt verdana; color:#4e4e4e">
<ID ID="errortext">` + title + `</ID></h1>
<font ID="LID1" style="font:9pt/11pt verdana; color:black">
The site you are trying to view does not currently have a default page. It may be in the process of being upgraded and configured.
<p ID="LID2">Please try this site again later. If you still experience the problem, try contacting the Web site administrator.</p>
<hr size=1 color="blue">
<p ID="LID3">If you are the Web site administrator and feel you have received this message in error, please see &quot;Enabling and Disabling Dynamic Content&quot; in IIS Help.</p>
<h5 ID="LID4">To access IIS Help</h5>
<ol>
<li ID="LID5">Click <b>Start</b>, and then click <b>Run</b>.</li>
<li ID="LID6">In the <b>Open</b> text box, type <b>inetmgr</b>. IIS Manager appears.</li>
<li ID="LID7">From the <b>Help</b> menu, click <b>Help Topics</b>.</li>
<li ID="LID8">Click <b>Internet Information Services</b>.</li>
</ol>
</font>
</td>
</tr>
</table>
</body>
</html>
`)
}

// iisErrorPage is the frame of IIS 5.0's custom error files (404b.htm and
// its kin).
func iisErrorPage(title, lead, code string, tips bool) string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html dir=ltr>

<head>
<style>
a:link			{font:8pt/11pt verdana; color:FF0000}
a:visited		{font:8pt/11pt verdana; color:#4e4e4e}
</style>

<META NAME="ROBOTS" CONTENT="NOINDEX">

<title>` + title + `</title>

<META HTTP-EQUIV="Content-Type" Content="text-html; charset=Windows-1252">
</head>

<body bgcolor="FFFFFF">

<table width="410" cellpadding="3" cellspacing="5">

  <tr>    
    <td align="left" valign="middle" width="360">
	<h1 style="COLOR:000000; FONT: 13pt/15pt verdana"><!--Problem-->` + title + `</h1>
    </td>
  </tr>
  
  <tr>
    <td width="400" colspan="2">
	<font style="COLOR:000000; FONT: 8pt/11pt verdana">` + lead + `</font></td>
  </tr>
  
  <tr>
    <td width="400" colspan="2">
	<font style="COLOR:000000; FONT: 8pt/11pt verdana">

	<hr color="#C0C0C0" noshade>
	
`)
	if tips {
		b.WriteString(`    <p>Please try the following:</p>

	<ul>
      <li>If you typed the page address in the Address bar, make sure that it is spelled correctly.<br>
      </li>

      <li>Open the home page, and then look for links to the information you want.</li>
      <li>Click the <a href="javascript:history.back(1)">Back</a> button to try another link.</li>
    </ul>

`)
	}
	b.WriteString(`    <h2 style="font:8pt/11pt verdana; color:000000">` + code + `<br>
	Internet Information Services<BR></h2>

	<hr color="#C0C0C0" noshade>

	</font></td>
  </tr>
  
</table>
</body>
</html>
`)
	return crlf(b.String())
}

var (
	iis404 = iisErrorPage("The page cannot be found",
		"The page you are looking for might have been removed, had its name changed, or is temporarily unavailable.",
		"HTTP 404 - File not found", true)
	iis403Execute = iisErrorPage("The page cannot be displayed",
		"You have attempted to execute a CGI, ISAPI, or other executable program from a directory that does not allow programs to be executed.",
		"HTTP 403.1 Forbidden: Execute Access Forbidden", false)
	iis403Read = iisErrorPage("The page cannot be displayed",
		"You are not authorized to view this page due to access restrictions.",
		"HTTP 403.2 - Forbidden: Read access is denied", false)
	iis403 = iisErrorPage("The page cannot be displayed",
		"You do not have permission to view this directory or page using the credentials you supplied.",
		"HTTP 403 - Forbidden", false)
	iis405 = iisErrorPage("The page cannot be displayed",
		"The page you are looking for cannot be displayed because an invalid method (HTTP verb) was used to attempt access.",
		"HTTP 405 - Resource not allowed", false)
	iis501 = iisErrorPage("The page cannot be displayed",
		"The page you are looking for cannot be displayed because the request method is not implemented.",
		"HTTP 501 - Not implemented", false)
	iis411 = iisErrorPage("The page cannot be displayed",
		"The page you are looking for cannot be displayed because the request has no Content-Length header.",
		"HTTP 411 - Length required", false)
)

const iisListingDenied = "<html><head><title>Directory Listing Denied</title></head>\n" +
	"<body><h1>Directory Listing Denied</h1>This Virtual Directory does not allow contents to be listed.</body></html>"

// iisMoved is IIS's body for a redirect.
func iisMoved(loc string) string {
	return "<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>This document may be found <a HREF=\"" +
		html.EscapeString(loc) + "\">here</a></body>"
}

// gif1x1 stands in for the images of the default site.
var gif1x1 = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// GoAhead-Webs pages.

// goaheadError is GoAhead's websError body (2.5, without the URL echo).
func goaheadError(title, msg string) string {
	return "<html><head><title>Document Error: " + title + "</title></head>\r\n" +
		"\t\t<body><h2>Access Error: " + title + "</h2>\r\n" +
		"\t\t<p>" + msg + "</p></body></html>\r\n"
}

// goaheadMoved is GoAhead's websRedirect body.
func goaheadMoved(url string) string {
	return "<html><head></head><body>\r\n" +
		"\t\tThis document has moved to a new <a href=\"" + html.EscapeString(url) + "\">location</a>.\r\n" +
		"\t\tPlease update your documents to reflect the new location.\r\n" +
		"\t\t</body></html>\r\n"
}

// routerLogin is the login page of the linux-iot router.
func routerLogin(title, action string, failed bool) string {
	note := ""
	if failed {
		note = `<tr><td colspan="2" align="center"><font color="red">Invalid user name or password.</font></td></tr>` + "\n"
	}
	return fmt.Sprintf(`<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">
<meta http-equiv="Pragma" content="no-cache">
<title>%[1]s</title>
<script language="JavaScript">
function chk(f) {
	if (f.username.value == "") { alert("Please enter the user name."); return false; }
	return true;
}
</script>
</head>
<body bgcolor="#FFFFFF" onload="document.login.username.focus()">
<br><br>
<form name="login" method="post" action="%[2]s" onsubmit="return chk(this)">
<table align="center" width="360" border="0" cellpadding="4" cellspacing="0" bgcolor="#E8E8E8">
<tr><td colspan="2" bgcolor="#31659C"><font color="#FFFFFF"><b>%[1]s</b></font></td></tr>
%[3]s<tr><td align="right" width="40%%">User Name:</td><td><input type="text" name="username" size="20" maxlength="32"></td></tr>
<tr><td align="right">Password:</td><td><input type="password" name="password" size="20" maxlength="32"></td></tr>
<tr><td colspan="2" align="center"><input type="submit" value="Login">&nbsp;<input type="reset" value="Cancel"></td></tr>
</table>
</form>
</body>
</html>
`, html.EscapeString(title), html.EscapeString(action), note)
}
