package shell

import "time"

// WinOptions shape the fake Windows 2000 disk.
type WinOptions struct {
	// Release is the date of the system's own files (Windows 2000
	// shipped them dated 7 December 1999).
	Release time.Time
	// Installed is when setup ran: the date of the directories it made.
	Installed time.Time
}

// winFile is one entry of the fake disk: a directory when size < 0.
type winFile struct {
	path    string
	size    int64
	program string
	hidden  bool
	setup   bool // dated at installation rather than release
}

var win2000Files = []winFile{
	{`c:\AUTOEXEC.BAT`, 0, "", false, true},
	{`c:\CONFIG.SYS`, 0, "", false, true},
	{`c:\IO.SYS`, 0, "", true, true},
	{`c:\MSDOS.SYS`, 0, "", true, true},
	{`c:\NTDETECT.COM`, 34468, "", true, false},
	{`c:\ntldr`, 214416, "", true, false},
	{`c:\pagefile.sys`, 201326592, "", true, true},
	{`c:\Documents and Settings\Administrator`, -1, "", false, true},
	{`c:\Documents and Settings\All Users`, -1, "", false, true},
	{`c:\Documents and Settings\Default User`, -1, "", true, true},
	{`c:\Inetpub\AdminScripts\adsutil.vbs`, 77238, "", false, false},
	{`c:\Inetpub\AdminScripts\contftp.vbs`, 2947, "", false, false},
	{`c:\Inetpub\AdminScripts\mkw3site.vbs`, 8843, "", false, false},
	{`c:\Inetpub\ftproot`, -1, "", false, true},
	{`c:\Inetpub\iissamples\default`, -1, "", false, true},
	{`c:\Inetpub\iissamples\sdk`, -1, "", false, true},
	{`c:\Inetpub\mailroot\Badmail`, -1, "", false, true},
	{`c:\Inetpub\mailroot\Drop`, -1, "", false, true},
	{`c:\Inetpub\mailroot\Pickup`, -1, "", false, true},
	{`c:\Inetpub\mailroot\Queue`, -1, "", false, true},
	{`c:\Inetpub\scripts`, -1, "", false, true},
	{`c:\Inetpub\wwwroot`, -1, "", false, true},
	{`c:\Program Files\Common Files\Microsoft Shared\web server extensions\40\isapi\shtml.dll`, 27920, "", false, false},
	{`c:\Program Files\Common Files\Microsoft Shared\web server extensions\40\isapi\_vti_adm\admin.dll`, 23824, "", false, false},
	{`c:\Program Files\Common Files\Microsoft Shared\web server extensions\40\isapi\_vti_aut\author.dll`, 23824, "", false, false},
	{`c:\Program Files\Common Files\System\msadc\msadcs.dll`, 74000, "", false, false},
	{`c:\Program Files\Common Files\System\msadc\msadce.dll`, 291088, "", false, false},
	{`c:\Program Files\Common Files\System\msadc\msadco.dll`, 135440, "", false, false},
	{`c:\Program Files\Common Files\System\msadc\Samples`, -1, "", false, false},
	{`c:\Program Files\Internet Explorer\IEXPLORE.EXE`, 91408, "", false, false},
	{`c:\Program Files\Outlook Express\msimn.exe`, 60688, "", false, false},
	{`c:\Program Files\Windows Media Player\mplayer2.exe`, 225040, "", false, false},
	{`c:\Program Files\Windows NT\Accessories\wordpad.exe`, 204048, "", false, false},
	{`c:\Program Files\WindowsUpdate`, -1, "", false, true},
	{`c:\WINNT\explorer.exe`, 241936, "", false, false},
	{`c:\WINNT\notepad.exe`, 50960, "", false, false},
	{`c:\WINNT\regedit.exe`, 70416, "", false, false},
	{`c:\WINNT\system.ini`, 0, "", false, false},
	{`c:\WINNT\win.ini`, 0, "", false, false},
	{`c:\WINNT\Help\iisHelp`, -1, "", false, true},
	{`c:\WINNT\inf`, -1, "", true, false},
	{`c:\WINNT\Fonts`, -1, "", false, false},
	{`c:\WINNT\repair`, -1, "", false, true},
	{`c:\WINNT\Temp`, -1, "", false, true},
	{`c:\WINNT\Web`, -1, "", false, false},
	{`c:\WINNT\system32\advapi32.dll`, 371472, "", false, false},
	{`c:\WINNT\system32\arp.exe`, 19728, "", false, false},
	{`c:\WINNT\system32\at.exe`, 24848, "", false, false},
	{`c:\WINNT\system32\attrib.exe`, 9488, "attrib", false, false},
	{`c:\WINNT\system32\cmd.exe`, 236304, "cmd", false, false},
	{`c:\WINNT\system32\cscript.exe`, 98064, "", false, false},
	{`c:\WINNT\system32\find.exe`, 15632, "find", false, false},
	{`c:\WINNT\system32\ftp.exe`, 37136, "ftp", false, false},
	{`c:\WINNT\system32\hostname.exe`, 7440, "hostname", false, false},
	{`c:\WINNT\system32\idq.dll`, 203536, "", false, false},
	{`c:\WINNT\system32\ipconfig.exe`, 22288, "ipconfig", false, false},
	{`c:\WINNT\system32\kernel32.dll`, 733968, "", false, false},
	{`c:\WINNT\system32\msvcrt.dll`, 295000, "", false, false},
	{`c:\WINNT\system32\nbtstat.exe`, 20752, "", false, false},
	{`c:\WINNT\system32\net.exe`, 38672, "net", false, false},
	{`c:\WINNT\system32\net1.exe`, 170256, "net", false, false},
	{`c:\WINNT\system32\netstat.exe`, 25872, "netstat", false, false},
	{`c:\WINNT\system32\ntdll.dll`, 478480, "", false, false},
	{`c:\WINNT\system32\ping.exe`, 14608, "ping", false, false},
	{`c:\WINNT\system32\rcp.exe`, 22800, "", false, false},
	{`c:\WINNT\system32\route.exe`, 20240, "", false, false},
	{`c:\WINNT\system32\rsh.exe`, 16144, "", false, false},
	{`c:\WINNT\system32\shell32.dll`, 2357008, "", false, false},
	{`c:\WINNT\system32\telnet.exe`, 73488, "", false, false},
	{`c:\WINNT\system32\tftp.exe`, 16656, "tftp", false, false},
	{`c:\WINNT\system32\user32.dll`, 402192, "", false, false},
	{`c:\WINNT\system32\ws2_32.dll`, 69392, "", false, false},
	{`c:\WINNT\system32\wscript.exe`, 118544, "", false, false},
	{`c:\WINNT\system32\wsock32.dll`, 21776, "", false, false},
	{`c:\WINNT\system32\xcopy.exe`, 28432, "", false, false},
	{`c:\WINNT\system32\config`, -1, "", false, false},
	{`c:\WINNT\system32\dllcache`, -1, "", true, false},
	{`c:\WINNT\system32\drivers\etc\hosts`, 0, "", false, false},
	{`c:\WINNT\system32\drivers\etc\services`, 6007, "", false, false},
	{`c:\WINNT\system32\inetsrv\asp.dll`, 332560, "", false, false},
	{`c:\WINNT\system32\inetsrv\inetinfo.exe`, 15120, "", false, false},
	{`c:\WINNT\system32\inetsrv\ism.dll`, 102672, "", false, false},
	{`c:\WINNT\system32\inetsrv\ssinc.dll`, 39696, "", false, false},
	{`c:\WINNT\system32\inetsrv\w3svc.dll`, 372496, "", false, false},
	{`c:\WINNT\system32\wbem`, -1, "", false, false},
}

// Contents of the few text files an intruder reads first.
var win2000Text = map[string]string{
	`c:\boot.ini`: "[boot loader]\r\ntimeout=30\r\ndefault=multi(0)disk(0)rdisk(0)partition(1)\\WINNT\r\n" +
		"[operating systems]\r\nmulti(0)disk(0)rdisk(0)partition(1)\\WINNT=\"Microsoft Windows 2000 Server\" /fastdetect\r\n",
	`c:\WINNT\win.ini`: "; for 16-bit app support\r\n[fonts]\r\n[extensions]\r\n[mci extensions]\r\n[files]\r\n[Mail]\r\nMAPI=1\r\n",
	`c:\WINNT\system.ini`: "; for 16-bit app support\r\n[drivers]\r\nwave=mmdrv.dll\r\ntimer=timer.drv\r\n\r\n[mci]\r\n[driver32]\r\n[386enh]\r\n" +
		"woafont=dosapp.FON\r\nEGA80WOA.FON=EGA80WOA.FON\r\nEGA40WOA.FON=EGA40WOA.FON\r\nCGA80WOA.FON=CGA80WOA.FON\r\nCGA40WOA.FON=CGA40WOA.FON\r\n",
	`c:\WINNT\system32\drivers\etc\hosts`: "# Copyright (c) 1993-1999 Microsoft Corp.\r\n#\r\n" +
		"# This is a sample HOSTS file used by Microsoft TCP/IP for Windows.\r\n#\r\n" +
		"127.0.0.1       localhost\r\n",
}

// Win2000Tree returns the disk of a stock Windows 2000 Server with IIS 5.0:
// C: with its system, program and Inetpub directories. Callers may Add
// their own files before handing the tree to FSs.
func Win2000Tree(o WinOptions) *Tree {
	if o.Release.IsZero() {
		o.Release = time.Date(1999, 12, 7, 8, 0, 0, 0, time.UTC)
	}
	if o.Installed.IsZero() {
		o.Installed = time.Date(2001, 6, 21, 9, 32, 0, 0, time.UTC)
	}
	t := NewTree(true)
	t.Add([]string{"C:"}, Node{Dir: true, Mod: o.Installed})
	for _, f := range win2000Files {
		parts := WinSplit(f.path)
		parts[0] = "C:"
		mod := o.Release
		if f.setup {
			mod = o.Installed
		}
		// Directories on the way are made at setup.
		for i := 2; i < len(parts); i++ {
			if t.lookup(parts[:i]) == nil {
				t.Add(parts[:i], Node{Dir: true, Mod: o.Installed})
			}
		}
		n := Node{Mod: mod, Hidden: f.hidden, Program: f.program}
		if f.size < 0 {
			n.Dir = true
		} else {
			n.Size = f.size
		}
		if txt, ok := win2000Text[f.path]; ok {
			n.Data = []byte(txt)
		}
		t.Add(parts, n)
	}
	// boot.ini is not in the list above so that its text sizes it.
	t.Add([]string{"C:", "boot.ini"}, Node{Mod: o.Installed, Hidden: true, Data: []byte(win2000Text[`c:\boot.ini`])})
	return t
}
