// Fake devices: a node's GPUs written as text or JSON, for tests, demos and dry runs on machines
// without a GPU (`rigshift agent --fake-devices SPEC`, `--device-file FILE`).
//
// The spec grammar (docs/agent.md has examples):
//
//   spec   := group { ';' group }
//   group  := COUNT 'x' MODEL { option }          "8xH100 nvlink=2x4", "6xRTX 3090 pcie=x1"
//   MODEL  := the words before the first option; spaces allowed ("RTX 3090", "GeForce RTX 3090")
//   option := 'nvlink=' G 'x' S      G groups of S GPUs, each group fully NVLinked (G*S = COUNT)
//           | 'nvlinks=' N           bonded NVLinks per pair inside a group (default 12: "NV12")
//           | 'pcie=' [ 'gen' N ] [ 'x' W ]   current link: pcie=x1 (a riser), pcie=gen3x16, pcie=gen4
//           | 'mem=' N [ 'GiB' | 'MiB' ]      VRAM (default GiB); needed for a model not in the table
//           | 'power=' W                      power limit in watts
//           | 'numa=' N              spread the group's GPUs over N NUMA nodes in order (default 1)
//
// Known models (name, VRAM, PCIe generation, power limit) come from a small table: H100, H200,
// A100, L40S, RTX 4090/4080, RTX 3090/3080/3070/3060, RTX A5000, V100, GTX 1080 Ti/1070 Ti.
// Matching ignores case, spaces, dashes and a leading "NVIDIA"/"GeForce".
//
// Links: NV<nvlinks> inside an nvlink group; otherwise PHB within a NUMA node and SYS across
// NUMA nodes or between ';' groups. GPUs are numbered across groups in order. UUIDs are
// deterministic: a hash of `node` and the GPU's index, so two fake nodes never share one.
#pragma once

#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "agent/discovery.h"
#include "common/status.h"

namespace rigshift::agent {

// InvalidArgument naming the group and the token that was wrong ("fake devices: group 1
// '6xRTX 3090 pcie=x3': pcie=x3: width must be 1, 2, 4, 8 or 16").
[[nodiscard]] Result<Discovery> ParseFakeDevices(std::string_view spec, std::string_view node = "");

// A device file: either {"spec": "8xH100 nvlink=2x4"} or the JSON `rigshift agent parse`
// prints ({"gpus": [...], "links": [{"a": 0, "b": 1, "link": "NV18"}, ...]}). Each GPU needs
// `name` and `memory_mib`; `index` defaults to its position, `uuid` to a generated one; GPU
// pairs missing from `links` are SYS. Unknown keys are errors (they are usually typos).
[[nodiscard]] Result<Discovery> ParseDeviceFile(std::string_view json_text, std::string_view name,
                                                std::string_view node = "");

}  // namespace rigshift::agent
