-- nn.functional convolutions: F.conv1d/2d/3d(input, weight[, bias][, opts]) with opts
-- {stride=1, padding=0 | 'same' | 'valid', dilation=1, groups=1}, and
-- F.conv_transpose1d/2d/3d(input, weight[, bias][, opts]) with {stride=1, padding=0,
-- output_padding=0, groups=1, dilation=1}. Each option is a number or a list with one
-- entry per spatial dim. Inputs are (N, C, spatial...) or unbatched (C, spatial...);
-- weights are (out_channels, in_channels/groups, k...) for conv and
-- (in_channels, out_channels/groups, k...) for the transposed forms, as in PyTorch.
--
-- Padding here is always zeros. The padding modes 'reflect', 'replicate' and
-- 'circular' of nn.Conv* are the caller's job: pad the input first with
-- F.pad(input, pads, mode) and convolve with padding=0 (which is what PyTorch's
-- modules do too).
local torch = require 'torch'

local M = {}

function M.conv1d(input, weight, bias, opts) return torch.conv1d(input, weight, bias, opts) end
function M.conv2d(input, weight, bias, opts) return torch.conv2d(input, weight, bias, opts) end
function M.conv3d(input, weight, bias, opts) return torch.conv3d(input, weight, bias, opts) end
function M.conv_transpose1d(input, weight, bias, opts) return torch.conv_transpose1d(input, weight, bias, opts) end
function M.conv_transpose2d(input, weight, bias, opts) return torch.conv_transpose2d(input, weight, bias, opts) end
function M.conv_transpose3d(input, weight, bias, opts) return torch.conv_transpose3d(input, weight, bias, opts) end

return M
