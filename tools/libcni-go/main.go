// golibcni: a thin command-line driver over upstream libcni (Debian's golang-github-appc-cni-dev,
// libcni 1.1.2), so the differential tests can run the same requests through upstream libcni and
// through @cni-ts/libcni and compare results, request configs and cache files.
//
// Build offline:  GO111MODULE=off GOPATH=/usr/share/gocode go build -o golibcni ./tools/libcni-go
//
//	golibcni load    <confdir> <network>           the list as libcni loaded it
//	golibcni add     <confdir> <network>           ADD; stdin: the runtime conf (JSON)
//	golibcni check   <confdir> <network>           CHECK
//	golibcni del     <confdir> <network>           DEL
//	golibcni cached  <confdir> <network>           the cached result, in the list's version
//	golibcni version <plugin type>                 the plugin's VERSION answer
//
// CNI_PATH is the plugin path (':'-separated) and LIBCNI_CACHE_DIR the result cache directory.
// Output: one JSON object {"result": …, "error": "…", "code": N} on stdout; exit 0 either way.
//
// The capture tool's form (tools/fixtures/capture-go-results.mjs) is kept:
//
//	golibcni ADD|CHECK|DEL <conflist.json> <containerID> <netns> <ifname> <cacheDir> [capabilityArgs.json]
//
// ADD prints the final result in the list's version (result.Print()); a failure prints libcni's
// error on stderr and exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

type runtimeConf struct {
	ContainerID    string                 `json:"containerID"`
	NetNS          string                 `json:"netns"`
	IfName         string                 `json:"ifName"`
	Args           [][2]string            `json:"args,omitempty"`
	CapabilityArgs map[string]interface{} `json:"capabilityArgs,omitempty"`
}

type output struct {
	Result interface{} `json:"result,omitempty"`
	Error  string      `json:"error,omitempty"`
	Code   uint        `json:"code,omitempty"`
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: golibcni load|add|check|del|cached <confdir> <network> | version <type>")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "ADD", "CHECK", "DEL":
		if len(os.Args) < 7 {
			fmt.Fprintln(os.Stderr, "usage: golibcni ADD|CHECK|DEL <conflist.json> <containerID> <netns> <ifname> <cacheDir> [capabilityArgs.json]")
			os.Exit(2)
		}
		if err := runFile(os.Args[1], os.Args[2], os.Args[3:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	res, err := run(os.Args[1], os.Args[2:])
	out := output{Result: res}
	if err != nil {
		out.Error = err.Error()
		var te *types.Error
		if errors.As(err, &te) {
			out.Code = te.Code
		}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(op string, args []string) (interface{}, error) {
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), os.Getenv("LIBCNI_CACHE_DIR"), nil)
	ctx := context.Background()
	if op == "version" {
		info, err := cni.GetVersionInfo(ctx, args[0])
		if err != nil {
			return nil, err
		}
		v := info.SupportedVersions()
		sort.Strings(v)
		return v, nil
	}
	if len(args) < 2 {
		return nil, fmt.Errorf("%s needs <confdir> <network>", op)
	}
	list, err := libcni.LoadConfList(args[0], args[1])
	if err != nil {
		return nil, err
	}
	if op == "load" {
		plugins := []string{}
		for _, p := range list.Plugins {
			plugins = append(plugins, string(p.Bytes))
		}
		return map[string]interface{}{
			"name": list.Name, "cniVersion": list.CNIVersion, "disableCheck": list.DisableCheck, "plugins": plugins,
		}, nil
	}
	rt, err := readRuntime()
	if err != nil {
		return nil, err
	}
	switch op {
	case "add":
		return cni.AddNetworkList(ctx, list, rt)
	case "check":
		return nil, cni.CheckNetworkList(ctx, list, rt)
	case "del":
		return nil, cni.DelNetworkList(ctx, list, rt)
	case "cached":
		return cni.GetNetworkListCachedResult(list, rt)
	}
	return nil, fmt.Errorf("unknown operation %q", op)
}

func readRuntime() (*libcni.RuntimeConf, error) {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return nil, err
	}
	var rc runtimeConf
	if err := json.Unmarshal(data, &rc); err != nil {
		return nil, fmt.Errorf("runtime conf on stdin: %w", err)
	}
	return &libcni.RuntimeConf{
		ContainerID:    rc.ContainerID,
		NetNS:          rc.NetNS,
		IfName:         rc.IfName,
		Args:           rc.Args,
		CapabilityArgs: rc.CapabilityArgs,
	}, nil
}

// runFile is the capture tool's form: a conflist file and positional runtime arguments.
func runFile(command, listFile string, rest []string) error {
	list, err := libcni.ConfListFromFile(listFile)
	if err != nil {
		return err
	}
	rt := &libcni.RuntimeConf{ContainerID: rest[0], NetNS: rest[1], IfName: rest[2]}
	if len(rest) > 4 {
		raw, err := os.ReadFile(rest[4])
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &rt.CapabilityArgs); err != nil {
			return fmt.Errorf("capability args: %w", err)
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), rest[3], nil)
	ctx := context.Background()
	switch command {
	case "ADD":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			return err
		}
		return result.Print()
	case "CHECK":
		return cni.CheckNetworkList(ctx, list, rt)
	default:
		return cni.DelNetworkList(ctx, list, rt)
	}
}
