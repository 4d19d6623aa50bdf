-- nn: modules, layers, losses, initialisation and utilities, written in Lua on
-- the tensor API (the heavy layer math is C kernels with autograd nodes). Each
-- part lives in its own file under lua/nn/ and adds its classes to this table;
-- parts not present yet are skipped.
local torch = require 'torch'

local nn = {}
package.loaded['nn'] = nn -- before the parts load: torch.class('nn.X', ...) files X into nn

local PARTS = {
  'module', 'containers', 'parameter',
  'linear', 'activation', 'conv', 'pooling', 'normalization', 'dropout', 'sparse', 'padding',
  'upsampling', 'transformer', 'loss', 'distance', 'fold', 'initialization', 'utils', 'rnn_utils', 'utils_norm',
  'rnn', -- nn.init: initialization.lua
}
for _, part in ipairs(PARTS) do
  local name = 'nn.' .. part
  if package.searchpath(name, package.path) then require(name) end
end

nn.functional = require 'nn.functional'
return nn
