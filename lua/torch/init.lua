-- torch: the tensor library. Loads the C core (torch.core) and adds the parts
-- written in Lua: the class system, dtype names, legacy tensor constructors,
-- printing, the random-number front end and torch.save/torch.load.
local C = require 'torch.core'

local torch = {}
for k, v in pairs(C) do torch[k] = v end

torch.Tensor_methods = C._methods -- methods shared by every tensor (add Lua methods here)
torch._VERSION = '0.1.0'
torch.__version__ = torch._VERSION

-- dtype names, usable as x.dtype == torch.float32 or {dtype=torch.int64}
for _, name in ipairs { 'float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16',
  'int8', 'uint8', 'bool' } do
  torch[name] = name
end
torch.float, torch.double, torch.half = 'float32', 'float64', 'float16'
torch.long, torch.int, torch.short = 'int64', 'int32', 'int16'

require('torch.class')(torch)
require('torch.suggest')(torch)
require('torch.ordered_dict')(torch)
require('torch.legacy')(torch)
require('torch.print')(torch)
require('torch.autograd')(torch)
require('torch.safetensors')(torch)
require('torch.numpy')(torch)
require('torch.serialization')(torch)
require('torch.pytorch_format')(torch)

-- progress bars load on first use (lua/torch/progress.lua), so startup does not pay
function torch.progress(...) return require('torch.progress').progress(...) end
function torch.ProgressBar(...) return require('torch.progress').ProgressBar(...) end

return torch
