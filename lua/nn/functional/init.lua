-- nn.functional (F): the functional form of every layer and loss. Each part
-- (lua/nn/functional/<part>.lua) returns a table of functions merged here;
-- parts not present yet are skipped.
local F = {}
package.loaded['nn.functional'] = F

local PARTS = { 'activation', 'linear', 'conv', 'pooling', 'normalization', 'dropout', 'sparse', 'padding',
  'upsampling', 'attention', 'loss', 'distance', 'vision' }
for _, part in ipairs(PARTS) do
  local name = 'nn.functional.' .. part
  if package.searchpath(name, package.path) then
    for k, v in pairs(require(name)) do
      if F[k] ~= nil then error('nn.functional: ' .. k .. ' is defined by two parts') end
      F[k] = v
    end
  end
end
return F
