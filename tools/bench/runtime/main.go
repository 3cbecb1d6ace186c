// bench-runtime: the container runtime of tools/bench. It runs conflists through upstream libcni
// (Debian's golang-github-appc-cni-dev, v1.1.2) as containerd or CRI-O would, from inside a
// "node" network namespace (with that netns's own sysfs on /sys, as a node's runtime sees the
// host's: a private mount namespace per op, see inNetns), and times every plugin execution libcni makes: wall time from fork to
// exit and the peak resident memory the kernel reports for it (wait4's rusage: the plugin and the
// processes it waited for), and the CPU time (user + system) of the plugin and the processes it
// waited for, which a loaded machine disturbs far less than wall time. The caller decides the order (interleaving ours and Go's) and which
// operations run concurrently.
//
//	bench-runtime < job.json > samples.json
//
// job.json: {"groups": [[op, …], …]}: groups run one after another, the ops of a group at the
// same time. An op is
//
//	{"id": "…", "cmd": "ADD"|"DEL"|"CHECK"|"VERSION", "lists": [{"list": "<conflist file>", "ifname": "…"}, …],
//	 "node": "<netns path>", "cniPath": "…", "env": ["K=V", …], "cacheDir": "…", "containerId": "…", "netns": "…",
//	 "capabilityArgs": {…}}
//
// The lists are a pod's attachments in ADD order (DEL runs them in reverse); "VERSION" execs each
// list's first plugin with CNI_COMMAND=VERSION directly. The output has one
// sample per op, in job order: {"id", "ok", "error", "startMs", "wallMs", "execs": [{"plugin", "cmd", "ms",
// "cpuMs", "maxRssKiB"}]}.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

type op struct {
	ID             string                 `json:"id"`
	Cmd            string                 `json:"cmd"`
	Lists          []step                 `json:"lists"`
	Node           string                 `json:"node"`
	CniPath        string                 `json:"cniPath"`
	Env            []string               `json:"env"`
	CacheDir       string                 `json:"cacheDir"`
	ContainerID    string                 `json:"containerId"`
	Netns          string                 `json:"netns"`
	CapabilityArgs map[string]interface{} `json:"capabilityArgs"`
	// Memory runs each plugin under GNU time, which forks it from its own small process and reports
	// its peak RSS; maxRssKiB is then the plugin's own. (A child forked from this Go process, as
	// os/exec does with CLONE_VM, inherits this process's high-water mark in wait4's ru_maxrss.)
	// The time of such runs includes GNU time's.
	Memory bool `json:"memory"`
	// SetnsOnly enters the node with setns(CLONE_NEWNET) alone, as this runtime did before: the
	// plugins then see the root namespace's /sys (sysfs shows the netns of whoever mounted it).
	// Without it the op's thread also gets a mount namespace of its own with the node's sysfs, as
	// `ip netns exec` gives and as a real node's runtime sees the host's (the A/B of the two paths).
	SetnsOnly bool `json:"setnsOnly"`
}

// step is one conflist of a pod's attachment and the interface it names (the runtime's "lo"
// list, then the pod network's "eth0" list); DEL runs the steps in reverse.
type step struct {
	List   string `json:"list"`
	Ifname string `json:"ifname"`
}

type execSample struct {
	Plugin    string  `json:"plugin"`
	Cmd       string  `json:"cmd"`
	Ms        float64 `json:"ms"`
	CPUMs     float64 `json:"cpuMs"`
	MaxRssKiB int64   `json:"maxRssKiB"`
}

type sample struct {
	ID      string       `json:"id"`
	OK      bool         `json:"ok"`
	Error   string       `json:"error,omitempty"`
	StartMs float64      `json:"startMs"`
	WallMs  float64      `json:"wallMs"`
	Execs   []execSample `json:"execs"`
}

// timedExec is libcni's RawExec with a stopwatch and the child's rusage.
type timedExec struct {
	memory bool
	env    []string // added to every plugin's environment (a variant of ours)
	mu     sync.Mutex
	execs  []execSample
}

func (e *timedExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, path)
	var rssFile string
	if e.memory {
		f, err := os.CreateTemp("", "bench-rss-")
		if err != nil {
			return nil, err
		}
		rssFile = f.Name()
		f.Close()
		defer os.Remove(rssFile)
		c = exec.CommandContext(ctx, "/usr/bin/time", "-f", "%M", "-o", rssFile, path)
	}
	c.Env = append(append([]string{}, environ...), e.env...)
	c.Stdin = bytes.NewReader(stdin)
	c.Stdout = &stdout
	c.Stderr = &stderr
	start := time.Now()
	err := c.Run()
	ms := float64(time.Since(start).Microseconds()) / 1000
	var rss int64
	var cpu float64
	if c.ProcessState != nil {
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss
			// user + system time of the plugin and every process it waited for (ip, iptables, …)
			cpu = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
		}
	}
	if rssFile != "" {
		if b, err := os.ReadFile(rssFile); err == nil {
			fmt.Sscan(lastLine(string(b)), &rss)
		}
	}
	e.mu.Lock()
	e.execs = append(e.execs, execSample{Plugin: filepath.Base(path), Cmd: cniCommand(environ), Ms: ms, CPUMs: cpu, MaxRssKiB: rss})
	e.mu.Unlock()
	if err != nil {
		msg := strings.TrimSpace(stdout.String())
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		return nil, &types.Error{Code: 999, Msg: fmt.Sprintf("%s: %v: %s", filepath.Base(path), err, msg)}
	}
	return stdout.Bytes(), nil
}

// lastLine is GNU time's figure: it prints "Command exited with non-zero status N" before it on failure.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func (e *timedExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

func (e *timedExec) Decode(b []byte) (version.PluginInfo, error) {
	return (&version.PluginDecoder{}).Decode(b)
}

func cniCommand(environ []string) string {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "CNI_COMMAND=") {
			return kv[len("CNI_COMMAND="):]
		}
	}
	return ""
}

// inNetns runs f on a thread of its own that has entered the network namespace at path and,
// unless setnsOnly, a private mount namespace with that netns's own sysfs on /sys: what `ip
// netns exec` does (unshare(CLONE_NEWNS), / made a recursive slave so nothing propagates back to
// the root namespace, /sys detached and sysfs mounted fresh; unshare gives the thread its own
// fs_struct, so the rest of the process is untouched). The plugins it forks inherit both. The
// thread is never handed back to Go's scheduler (the goroutine exits locked, so it is destroyed,
// and with it the mount namespace: nothing to clean up).
func inNetns(path string, setnsOnly bool, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		_, _, errno := syscall.RawSyscall(sysSetns(), uintptr(fd), syscall.CLONE_NEWNET, 0)
		syscall.Close(fd)
		if errno != 0 {
			done <- fmt.Errorf("setns %s: %v", path, errno)
			return
		}
		if !setnsOnly {
			if err := nodeSysfs(); err != nil {
				done <- err
				return
			}
		}
		done <- f()
	}()
	return <-done
}

// nodeSysfs gives the calling (locked) thread a mount namespace of its own in which /sys is the
// sysfs of the thread's current network namespace.
func nodeSysfs() error {
	if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNS): %v", err)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_SLAVE|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("making / a slave mount: %v", err)
	}
	// EINVAL: no sysfs mounted on /sys, nothing to hide (as ip netns exec takes it)
	if err := syscall.Unmount("/sys", syscall.MNT_DETACH); err != nil && err != syscall.EINVAL {
		return fmt.Errorf("detaching /sys: %v", err)
	}
	if err := syscall.Mount("sysfs", "/sys", "sysfs", 0, ""); err != nil {
		return fmt.Errorf("mounting the node's sysfs: %v", err)
	}
	return nil
}

var epoch = time.Now()

// setns(2)'s number: Go 1.19's syscall package names it on arm64, not on amd64.
func sysSetns() uintptr {
	if runtime.GOARCH == "amd64" {
		return 308
	}
	return 268 // arm64
}

func run(o op) sample {
	s := sample{ID: o.ID}
	te := &timedExec{memory: o.Memory, env: o.Env}
	start := time.Now()
	s.StartMs = float64(start.Sub(epoch).Microseconds()) / 1000
	err := inNetns(o.Node, o.SetnsOnly, func() error { return runOp(o, te) })
	s.WallMs = float64(time.Since(start).Microseconds()) / 1000
	s.Execs = te.execs
	if err != nil {
		s.Error = err.Error()
	} else {
		s.OK = true
	}
	return s
}

func runOp(o op, te *timedExec) error {
	paths := filepath.SplitList(o.CniPath)
	ctx := context.Background()
	steps := o.Lists
	if o.Cmd == "DEL" {
		steps = make([]step, len(o.Lists))
		for i, st := range o.Lists {
			steps[len(o.Lists)-1-i] = st
		}
	}
	for _, st := range steps {
		list, err := libcni.ConfListFromFile(st.List)
		if err != nil {
			return err
		}
		if o.Cmd == "VERSION" {
			path, err := invoke.FindInPath(list.Plugins[0].Network.Type, paths)
			if err != nil {
				return err
			}
			env := []string{"CNI_COMMAND=VERSION", "PATH=" + os.Getenv("PATH")}
			if _, err := te.ExecPlugin(ctx, path, []byte("{}"), env); err != nil {
				return err
			}
			continue
		}
		rt := &libcni.RuntimeConf{ContainerID: o.ContainerID, NetNS: o.Netns, IfName: st.Ifname, CapabilityArgs: o.CapabilityArgs}
		cni := libcni.NewCNIConfigWithCacheDir(paths, o.CacheDir, te)
		switch o.Cmd {
		case "ADD":
			_, err = cni.AddNetworkList(ctx, list, rt)
		case "DEL":
			err = cni.DelNetworkList(ctx, list, rt)
		case "CHECK":
			err = cni.CheckNetworkList(ctx, list, rt)
		default:
			err = fmt.Errorf("unknown command %q", o.Cmd)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", o.Cmd, list.Name, err)
		}
	}
	return nil
}

func main() {
	var job struct {
		Groups [][]op `json:"groups"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&job); err != nil {
		fmt.Fprintln(os.Stderr, "bench-runtime: job:", err)
		os.Exit(2)
	}
	var out []sample
	for _, g := range job.Groups {
		res := make([]sample, len(g))
		var wg sync.WaitGroup
		for i := range g {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res[i] = run(g[i])
			}(i)
		}
		wg.Wait()
		out = append(out, res...)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
